import type { Caller } from '../access/caller';
import { ProblemError } from '../common/problem';
import type { AppConfig } from '../config/config.schema';
import { apiKeyHash, newApiKey } from './api-key-token';
import type { ApiKeyRow } from './api-key-tables';
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

function authenticator(rows: ApiKeyRow[], bootstrap: string | null = BOOTSTRAP) {
  const touched: string[] = [];
  const tokens: string[] = [];
  const repository = {
    findByHash: async (hash: string) => rows.find((r) => r.key_hash === hash),
    touch: async (id: string) => void touched.push(id),
  } as unknown as ApiKeysRepository;
  const publishers = { authenticate: async (token: string) => (tokens.push(token), { principal: 'oidc:x#y' } as Caller) } as unknown as TrustedPublishers;
  const config = { auth: { bootstrapAdminKey: bootstrap ?? undefined } } as AppConfig;
  return { subject: new CallerAuthenticator(config, repository, publishers), touched, tokens };
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
});
