import type { Caller } from '../access/caller';
import { ProblemError } from '../common/problem';
import type { AppConfig } from '../config/config.schema';
import { apiKeyHash, newApiKey } from './api-key-token';
import type { ApiKeyRow } from './api-key-tables';
import type { ApiKeyRevocations } from './api-key-revocations';
import type { ApiKeysRepository } from './api-keys.repository';
import { CallerAuthenticator } from './caller-authenticator';
import type { TrustedPublishers } from './trusted-publishers';

const BOOTSTRAP = 'a-bootstrap-admin-key-of-at-least-32-characters';

function row(key: string, overrides: Partial<ApiKeyRow> = {}): ApiKeyRow {
  return {
    id: '6f1c1d0e-8d0a-4d39-9a55-0d4b1f7c2a11',
    name: 'ci',
    key_hash: apiKeyHash(key),
    key_hint: key.slice(0, 8),
    scopes: ['artifacts:write', 'not-a-scope'],
    repositories: ['ghcr.io/my-org/app/**'],
    created_by: 'api-key:bootstrap',
    created_at: new Date(),
    expires_at: new Date(Date.now() + 60_000),
    last_used_at: null,
    revoked_at: null,
    revoked_by: null,
    ...overrides,
  };
}

/** Revocations as ApiKeyRevocations hands them over; `listening` as the Redis subscription would say. */
class FakeRevocations {
  listening = true;
  private readonly listeners: ((keyId: string | undefined) => void)[] = [];
  subscribe(listener: (keyId: string | undefined) => void): void {
    this.listeners.push(listener);
  }
  hear(keyId: string | undefined): void {
    for (const listener of this.listeners) listener(keyId);
  }
}

function authenticator(rows: ApiKeyRow[], bootstrap: string | null = BOOTSTRAP, cacheTtlSeconds = 0) {
  const touched: string[] = [];
  const tokens: string[] = [];
  const lookups: string[] = [];
  let beforeLookup: (() => void) | undefined;
  const repository = {
    findByHash: async (hash: string) => {
      lookups.push(hash);
      beforeLookup?.();
      // A copy, as the database gives: rows changed later (revoked) are not seen through an earlier read.
      const found = rows.find((r) => r.key_hash === hash);
      return found && { ...found };
    },
    touch: async (id: string) => void touched.push(id),
  } as unknown as ApiKeysRepository;
  const publishers = { authenticate: async (token: string) => (tokens.push(token), { principal: 'oidc:x#y' } as Caller) } as unknown as TrustedPublishers;
  const config = { auth: { bootstrapAdminKey: bootstrap ?? undefined, apiKeyCacheTtlSeconds: cacheTtlSeconds } } as AppConfig;
  const revocations = new FakeRevocations();
  const subject = new CallerAuthenticator(config, repository, publishers, revocations as unknown as ApiKeyRevocations);
  subject.onModuleInit();
  return { subject, touched, tokens, lookups, revocations, onLookup: (hook: () => void) => (beforeLookup = hook) };
}

async function refusal(promise: Promise<unknown>): Promise<{ status: number; code: string; detail?: string; headers: Record<string, string> }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProblemError);
  const problem = error as ProblemError;
  return { status: problem.status, code: problem.code, detail: problem.detail, headers: { ...problem.headers } };
}

describe('CallerAuthenticator', () => {
  it('knows the bootstrap admin key: every scope, every repository', async () => {
    const caller = await authenticator([]).subject.authenticate(`Bearer ${BOOTSTRAP}`);
    expect(caller.principal).toBe('api-key:bootstrap');
    expect(caller.identity).toEqual({ kind: 'api-key', keyId: 'bootstrap', name: 'bootstrap-admin' });
    expect(caller.scopes.has('admin')).toBe(true);
    expect(caller.repositories.allows('any.example/x')).toBe(true);
  });

  it('finds an API key by its hash, keeps only known scopes, and notes its use', async () => {
    const key = newApiKey();
    const { subject, touched } = authenticator([row(key)]);
    const caller = await subject.authenticate(`bearer ${key}`);
    expect(caller.principal).toBe('api-key:6f1c1d0e-8d0a-4d39-9a55-0d4b1f7c2a11');
    expect([...caller.scopes]).toEqual(['artifacts:write']);
    expect(caller.repositories.allows('ghcr.io/my-org/app/x')).toBe(true);
    expect(caller.repositories.allows('ghcr.io/my-org/other')).toBe(false);
    expect(touched).toEqual(['6f1c1d0e-8d0a-4d39-9a55-0d4b1f7c2a11']);
  });

  it('refuses revoked and expired keys with their own codes', async () => {
    const revoked = newApiKey();
    const expired = newApiKey();
    const { subject } = authenticator([row(revoked, { revoked_at: new Date() }), row(expired, { id: 'e', expires_at: new Date(Date.now() - 1) })]);
    expect(await refusal(subject.authenticate(`Bearer ${revoked}`))).toMatchObject({ status: 401, code: 'API_KEY_REVOKED' });
    expect(await refusal(subject.authenticate(`Bearer ${expired}`))).toMatchObject({ status: 401, code: 'API_KEY_EXPIRED' });
  });

  it.each([
    [undefined, 'CREDENTIAL_MISSING'],
    ['', 'CREDENTIAL_MISSING'],
    ['Basic dXNlcjpwYXNz', 'CREDENTIAL_MALFORMED'],
    ['Bearer', 'CREDENTIAL_MALFORMED'],
    ['Bearer two words', 'CREDENTIAL_MALFORMED'],
    ['Bearer not-a-key', 'CREDENTIAL_MALFORMED'],
    [`Bearer wsk_${'A'.repeat(43)}`, 'API_KEY_INVALID'],
    ['Bearer wsk_short', 'API_KEY_INVALID'],
    [`Bearer ${'a'.repeat(8193)}`, 'CREDENTIAL_MALFORMED'],
  ])('refuses %j with 401 %s and a Bearer challenge, never echoing it', async (header, code) => {
    const problem = await refusal(authenticator([]).subject.authenticate(header));
    expect(problem).toMatchObject({ status: 401, code });
    expect(problem.headers['www-authenticate']).toMatch(/^Bearer realm="wasm-signer"/);
    if (header && header.length > 12) expect(problem.detail).not.toContain(header.slice(7));
  });

  it('answers in bounded time for a long header of spaces (no backtracking)', async () => {
    const started = Date.now();
    await refusal(authenticator([]).subject.authenticate(`Bearer ${' '.repeat(100_000)}x y`));
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('hands JWT-shaped tokens to the trusted publishers, and nothing else', async () => {
    const { subject, tokens } = authenticator([]);
    await subject.authenticate('Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln');
    expect(tokens).toEqual(['eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln']);
  });

  it('has no bootstrap key when none is configured', async () => {
    expect(await refusal(authenticator([], null).subject.authenticate(`Bearer ${BOOTSTRAP}`))).toMatchObject({ code: 'CREDENTIAL_MALFORMED' });
  });

  describe('with API keys cached (API_KEY_CACHE_TTL_SECONDS)', () => {
    it('looks a key up once and reuses it, with the same scopes and repositories', async () => {
      const key = newApiKey();
      const { subject, lookups } = authenticator([row(key)], BOOTSTRAP, 10);
      const first = await subject.authenticate(`Bearer ${key}`);
      const second = await subject.authenticate(`Bearer ${key}`);
      expect(lookups).toHaveLength(1);
      expect(second.principal).toBe(first.principal);
      expect(second.repositories.allows('ghcr.io/my-org/app/x')).toBe(true);
      expect(second.repositories.allows('ghcr.io/my-org/other')).toBe(false);
    });

    it('refuses a revoked key on its next request once the revocation is heard', async () => {
      const key = newApiKey();
      const rows = [row(key)];
      const { subject, revocations, lookups } = authenticator(rows, BOOTSTRAP, 10);
      await subject.authenticate(`Bearer ${key}`);
      rows[0] = { ...rows[0]!, revoked_at: new Date() };
      revocations.hear(rows[0].id);
      expect(await refusal(subject.authenticate(`Bearer ${key}`))).toMatchObject({ status: 401, code: 'API_KEY_REVOKED' });
      expect(lookups).toHaveLength(2);
    });

    it('does not cache a key read while a revocation arrived (the read may predate it)', async () => {
      const key = newApiKey();
      const rows = [row(key)];
      const { subject, revocations, onLookup } = authenticator(rows, BOOTSTRAP, 10);
      // The revocation is heard while the read is under way; the read still returns the row unrevoked.
      onLookup(() => {
        onLookup(() => undefined);
        revocations.hear(rows[0]!.id);
      });
      await subject.authenticate(`Bearer ${key}`);
      rows[0] = { ...rows[0]!, revoked_at: new Date() };
      expect(await refusal(subject.authenticate(`Bearer ${key}`))).toMatchObject({ code: 'API_KEY_REVOKED' });
    });

    it('looks every key up while revocations from other processes are not heard, and forgets all when they are again', async () => {
      const key = newApiKey();
      const rows = [row(key)];
      const { subject, revocations, lookups } = authenticator(rows, BOOTSTRAP, 10);
      revocations.listening = false;
      await subject.authenticate(`Bearer ${key}`);
      await subject.authenticate(`Bearer ${key}`);
      expect(lookups).toHaveLength(2);
      revocations.listening = true;
      await subject.authenticate(`Bearer ${key}`);
      await subject.authenticate(`Bearer ${key}`);
      expect(lookups).toHaveLength(3);
      // Heard again after a gap (undefined: revocations may have been missed): every cached key is dropped.
      rows[0] = { ...rows[0]!, revoked_at: new Date() };
      revocations.hear(undefined);
      expect(await refusal(subject.authenticate(`Bearer ${key}`))).toMatchObject({ code: 'API_KEY_REVOKED' });
    });

    it('still refuses a cached key once it has expired', async () => {
      jest.useFakeTimers({ now: Date.now(), doNotFake: ['queueMicrotask', 'nextTick', 'setImmediate'] });
      try {
        const key = newApiKey();
        const { subject, lookups } = authenticator([row(key, { expires_at: new Date(Date.now() + 60_000) })], BOOTSTRAP, 300);
        await subject.authenticate(`Bearer ${key}`);
        jest.setSystemTime(Date.now() + 61_000);
        expect(await refusal(subject.authenticate(`Bearer ${key}`))).toMatchObject({ code: 'API_KEY_EXPIRED' });
        expect(lookups.length).toBeGreaterThanOrEqual(1);
      } finally {
        jest.useRealTimers();
      }
    });

    it('looks up on every request with a TTL of 0', async () => {
      const key = newApiKey();
      const { subject, lookups } = authenticator([row(key)], BOOTSTRAP, 0);
      await subject.authenticate(`Bearer ${key}`);
      await subject.authenticate(`Bearer ${key}`);
      expect(lookups).toHaveLength(2);
    });
  });
});
