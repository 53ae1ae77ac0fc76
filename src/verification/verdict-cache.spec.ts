import { readPolicy } from './artifact-verification.service';
import { VerdictCache, type VerdictKey, verdictKeyText } from './verdict-cache';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER_DIGEST = `sha256:${'b'.repeat(64)}`;
const ISSUER = 'https://oidc.example';
const policy = (extra: Record<string, unknown> = {}) => readPolicy({ certificateIdentity: 'https://id.example/signer', certificateOidcIssuer: ISSUER, ...extra });
const key = (extra: Partial<VerdictKey> = {}): VerdictKey => ({
  repository: 'registry.example/team/hello',
  digest: DIGEST,
  policy: policy(),
  trustRoot: { name: 'default', contentDigest: 'sha256:root-1' },
  ...extra,
});
const verified = { verified: true, label: 'verified' };
const failed = { verified: false, label: 'failed' };

describe('VerdictCache', () => {
  let now = 1_000_000;
  const clock = () => now;
  const cache = (options: Partial<ConstructorParameters<typeof VerdictCache>[0]> = {}) =>
    new VerdictCache<{ verified: boolean; label: string }>({ maxEntries: 100, ttlMs: 300_000, failedTtlMs: 10_000, now: clock, ...options });

  beforeEach(() => {
    now = 1_000_000;
  });

  it('finds a verdict only under the same digest, repository, whole policy and trust root (name and content)', () => {
    const verdicts = cache();
    verdicts.store(key(), verified, now, verdicts.begin());
    expect(verdicts.lookup(key())).toEqual({ verdict: verified, checkedAt: now });
    // The same policy read from fields in another order is the same key.
    expect(verdicts.lookup(key({ policy: readPolicy({ certificateOidcIssuer: ISSUER, certificateIdentity: 'https://id.example/signer' }) }))).toBeDefined();
    for (const other of [
      key({ digest: OTHER_DIGEST }),
      key({ repository: 'registry.example/team/other' }),
      key({ trustRoot: { name: 'staging', contentDigest: 'sha256:root-1' } }),
      key({ trustRoot: { name: 'default', contentDigest: 'sha256:root-2' } }),
      key({ policy: policy({ annotations: { stage: 'prod' } }) }),
      key({ policy: policy({ provenance: {} }) }),
      key({ policy: policy({ provenance: { builder: 'cargo' } }) }),
      key({ policy: readPolicy({ certificateIdentityRegExp: 'https://id\\.example/.*', certificateOidcIssuer: ISSUER }) }),
      key({ policy: readPolicy({ certificateIdentityRegExp: 'https://id\\.example/.+', certificateOidcIssuer: ISSUER }) }),
    ]) {
      expect(verdictKeyText(other)).not.toBe(verdictKeyText(key()));
      expect(verdicts.lookup(other)).toBeUndefined();
    }
  });

  it('keeps a pattern by its source and refuses a policy part that is not plain data', () => {
    const text = verdictKeyText(key({ policy: readPolicy({ certificateIdentityRegExp: 'https://id\\.example/.*', certificateOidcIssuer: ISSUER }) }));
    expect(text).toContain('https://id\\\\.example/.*');
    const odd = { ...policy(), annotations: new Map([['a', 'b']]) } as never;
    expect(() => verdictKeyText(key({ policy: odd }))).toThrow(expect.objectContaining({ code: 'POLICY_NOT_CACHEABLE' }));
  });

  it('expires a verified verdict after its TTL and a failed one after the short TTL', () => {
    const verdicts = cache();
    verdicts.store(key(), verified, now, verdicts.begin());
    verdicts.store(key({ digest: OTHER_DIGEST }), failed, now, verdicts.begin());
    now += 9_999;
    expect(verdicts.lookup(key({ digest: OTHER_DIGEST }))?.verdict).toBe(failed);
    now += 1;
    expect(verdicts.lookup(key({ digest: OTHER_DIGEST }))).toBeUndefined();
    expect(verdicts.lookup(key())?.verdict).toBe(verified);
    now = 1_000_000 + 300_000;
    expect(verdicts.lookup(key())).toBeUndefined();
  });

  it('gives nothing older than maxAge; maxAge 0 gives nothing', () => {
    const verdicts = cache();
    verdicts.store(key(), verified, now, verdicts.begin());
    now += 30_000;
    expect(verdicts.lookup(key(), 30_000)).toBeDefined();
    expect(verdicts.lookup(key(), 29_999)).toBeUndefined();
    expect(verdicts.lookup(key(), 0)).toBeUndefined();
    expect(verdicts.lookup(key())).toBeDefined();
  });

  it('keeps at most maxEntries, the least recently used dropped; 0 keeps nothing', () => {
    const verdicts = cache({ maxEntries: 2 });
    const keys = ['a', 'b', 'c'].map((c) => key({ digest: `sha256:${c.repeat(64)}` }));
    verdicts.store(keys[0]!, verified, now, verdicts.begin());
    verdicts.store(keys[1]!, verified, now, verdicts.begin());
    verdicts.lookup(keys[0]!);
    verdicts.store(keys[2]!, verified, now, verdicts.begin());
    expect(verdicts.size).toBe(2);
    expect(verdicts.lookup(keys[1]!)).toBeUndefined();
    expect(verdicts.lookup(keys[0]!)).toBeDefined();

    const off = cache({ maxEntries: 0 });
    off.store(key(), verified, now, off.begin());
    expect(off.lookup(key())).toBeUndefined();
  });

  it("an invalidation drops every policy's verdict on that repository@digest, and nothing else", () => {
    const verdicts = cache();
    const policies = [policy(), policy({ annotations: { stage: 'prod' } }), policy({ provenance: {} })];
    for (const p of policies) verdicts.store(key({ policy: p }), verified, now, verdicts.begin());
    verdicts.store(key({ digest: OTHER_DIGEST }), verified, now, verdicts.begin());
    verdicts.store(key({ repository: 'registry.example/team/other' }), verified, now, verdicts.begin());
    expect(verdicts.invalidate(`registry.example/team/hello@${DIGEST}`)).toBe(3);
    for (const p of policies) expect(verdicts.lookup(key({ policy: p }))).toBeUndefined();
    expect(verdicts.lookup(key({ digest: OTHER_DIGEST }))).toBeDefined();
    expect(verdicts.lookup(key({ repository: 'registry.example/team/other' }))).toBeDefined();
  });

  it('does not store a verdict computed while an invalidation arrived (it may predate the new signature)', () => {
    const verdicts = cache();
    const token = verdicts.begin();
    verdicts.invalidate(`registry.example/team/hello@${DIGEST}`);
    verdicts.store(key(), failed, now, token);
    expect(verdicts.lookup(key())).toBeUndefined();
    verdicts.store(key(), failed, now, verdicts.begin());
    expect(verdicts.lookup(key())).toBeDefined();
  });

  it('drops everything when invalidations may have been missed, and keeps no verdict computed across it', () => {
    const verdicts = cache();
    verdicts.store(key(), verified, now, verdicts.begin());
    verdicts.store(key({ digest: OTHER_DIGEST }), verified, now, verdicts.begin());
    const token = verdicts.begin();
    expect(verdicts.invalidateAll()).toBe(2);
    expect(verdicts.lookup(key())).toBeUndefined();
    expect(verdicts.lookup(key({ digest: OTHER_DIGEST }))).toBeUndefined();
    verdicts.store(key(), verified, now, token);
    expect(verdicts.lookup(key())).toBeUndefined();
  });
});
