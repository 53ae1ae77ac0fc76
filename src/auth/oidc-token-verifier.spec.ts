import { createServer } from 'node:net';
import { decodeJwt, UnsecuredJWT, SignJWT } from 'jose';
import { OidcTokenVerifier, readUnverifiedToken } from './oidc-token-verifier';
import { TokenVerificationError } from './token-verification-error';
import { type TestKey, TestIssuer, testKey } from './__fixtures__/test-issuer';

const AUDIENCES = ['wasm-signer'];

async function refusal(promise: Promise<unknown>): Promise<TokenVerificationError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TokenVerificationError) return error;
    throw error;
  }
  throw new Error('expected the token to be refused');
}

const flipSignatureByte = (token: string): string => {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const bytes = Buffer.from(signature, 'base64url');
  bytes[10]! ^= 0x01;
  return `${header}.${payload}.${bytes.toString('base64url')}`;
};

describe('OidcTokenVerifier', () => {
  let issuer: TestIssuer;
  let key: TestKey;

  beforeEach(async () => {
    issuer = await TestIssuer.start();
    key = await testKey('key-1');
    issuer.published = [key];
  });

  afterEach(() => issuer.close());

  const verifier = (options: Partial<ConstructorParameters<typeof OidcTokenVerifier>[0]> = {}) => new OidcTokenVerifier({ timeoutMs: 1_000, ...options });
  const expected = () => ({ issuer: issuer.url, audiences: AUDIENCES });

  it('verifies a token of the issuer with its published key, and says who it is for', async () => {
    const token = await issuer.token(key, { repository: 'my-org/app', ref: 'refs/heads/main', aud: ['other', 'wasm-signer'] });
    const verified = await verifier().verify(token, expected());
    expect(verified).toMatchObject({
      issuer: issuer.url,
      subject: 'repo:my-org/app:ref:refs/heads/main',
      audiences: ['other', 'wasm-signer'],
      claims: { repository: 'my-org/app', ref: 'refs/heads/main' },
    });
  });

  it('accepts RSA keys as well as EC ones', async () => {
    const rsa = await testKey('rsa-1', 'RS256');
    issuer.published = [key, rsa];
    await expect(verifier().verify(await issuer.token(rsa), expected())).resolves.toMatchObject({ subject: expect.any(String) });
  });

  it('fetches discovery and keys once for many tokens', async () => {
    const v = verifier();
    for (let i = 0; i < 5; i++) await v.verify(await issuer.token(key, { sub: `s${i}` }), expected());
    await Promise.all(Array.from({ length: 5 }, async (_, i) => v.verify(await issuer.token(key, { sub: `p${i}` }), expected())));
    expect(issuer.requests).toEqual({ discovery: 1, jwks: 1 });
  });

  it('shares the first discovery and key fetch between concurrent requests', async () => {
    const v = verifier();
    const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => issuer.token(key, { sub: `c${i}` })));
    await Promise.all(tokens.map((token) => v.verify(token, expected())));
    expect(issuer.requests).toEqual({ discovery: 1, jwks: 1 });
  });

  describe('refuses, each with its code', () => {
    it('an expired token (TOKEN_EXPIRED), allowing 60 s of clock skew', async () => {
      const now = Math.floor(Date.now() / 1000);
      const v = verifier();
      const expired = await refusal(v.verify(await issuer.token(key, { iat: now - 600, nbf: now - 600, exp: now - 120 }), expected()));
      expect(expired.code).toBe('TOKEN_EXPIRED');
      expect(expired.message).toContain(new Date((now - 120) * 1000).toISOString());
      await expect(v.verify(await issuer.token(key, { iat: now - 600, nbf: now - 600, exp: now - 30 }), expected())).resolves.toBeDefined();
    });

    it('a token not yet valid (TOKEN_NOT_YET_VALID), allowing 60 s of clock skew', async () => {
      const now = Math.floor(Date.now() / 1000);
      const v = verifier();
      expect((await refusal(v.verify(await issuer.token(key, { nbf: now + 600, exp: now + 900 }), expected()))).code).toBe('TOKEN_NOT_YET_VALID');
      await expect(v.verify(await issuer.token(key, { nbf: now + 30 }), expected())).resolves.toBeDefined();
    });

    it('a token for another audience (TOKEN_AUDIENCE_INVALID)', async () => {
      const error = await refusal(verifier().verify(await issuer.token(key, { aud: ['sigstore'] }), expected()));
      expect(error.code).toBe('TOKEN_AUDIENCE_INVALID');
      expect(error.message).toContain('"sigstore"');
      expect(error.message).toContain('wasm-signer');
    });

    it('a token whose signature does not verify (TOKEN_SIGNATURE_INVALID)', async () => {
      const token = flipSignatureByte(await issuer.token(key));
      expect((await refusal(verifier().verify(token, expected()))).code).toBe('TOKEN_SIGNATURE_INVALID');
    });

    it('a token whose payload was changed after signing (TOKEN_SIGNATURE_INVALID)', async () => {
      const [header, , signature] = (await issuer.token(key)).split('.');
      const forged = Buffer.from(JSON.stringify({ ...decodeJwt(await issuer.token(key)), sub: 'repo:my-org/other:ref:refs/heads/main' })).toString('base64url');
      expect((await refusal(verifier().verify(`${header}.${forged}.${signature}`, expected()))).code).toBe('TOKEN_SIGNATURE_INVALID');
    });

    it('a token signed by a key the issuer does not publish, after fetching its keys again (TOKEN_KEY_UNKNOWN)', async () => {
      const v = verifier({ jwksCooldownMs: 0 });
      await v.verify(await issuer.token(key), expected());
      const stranger = await testKey('not-published');
      expect((await refusal(v.verify(await issuer.token(stranger), expected()))).code).toBe('TOKEN_KEY_UNKNOWN');
      expect(issuer.requests.jwks).toBe(2);
    });

    it('a token signed by an unpublished key that claims a published kid (TOKEN_SIGNATURE_INVALID)', async () => {
      const impostor = await testKey('key-1');
      expect((await refusal(verifier().verify(await issuer.token(impostor), expected()))).code).toBe('TOKEN_SIGNATURE_INVALID');
    });

    it('a token without sub or exp (TOKEN_MALFORMED)', async () => {
      expect((await refusal(verifier().verify(await issuer.token(key, { sub: undefined }), expected()))).message).toContain('"sub"');
      const noExp = await refusal(verifier().verify(await issuer.token(key, { exp: undefined }), expected()));
      expect(noExp.code).toBe('TOKEN_MALFORMED');
      expect(noExp.message).toContain('"exp"');
    });

    it('a token of another issuer than the one expected (TOKEN_ISSUER_NOT_TRUSTED)', async () => {
      const token = await issuer.token(key, { iss: 'https://elsewhere.example' });
      expect((await refusal(verifier().verify(token, expected()))).code).toBe('TOKEN_ISSUER_NOT_TRUSTED');
    });
  });

  describe('reading a token before verifying it', () => {
    it('gives its issuer and algorithm', async () => {
      expect(readUnverifiedToken(await issuer.token(key))).toEqual({ issuer: issuer.url, algorithm: 'ES256' });
    });

    it.each([
      ['not a JWT', 'a.b.c', 'TOKEN_MALFORMED'],
      ['no iss', 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', 'TOKEN_MALFORMED'],
      ['no alg', 'eyJub3QiOiJqc29uIn0.e30.c2ln', 'TOKEN_MALFORMED'],
      ['alg none', new UnsecuredJWT({ iss: 'https://token.actions.githubusercontent.com', sub: 'x' }).encode(), 'TOKEN_ALGORITHM_NOT_ALLOWED'],
    ])('refuses %s', (_what, token, code) => {
      expect(() => readUnverifiedToken(token)).toThrow(expect.objectContaining({ code }));
    });

    it('refuses symmetric algorithms (TOKEN_ALGORITHM_NOT_ALLOWED)', async () => {
      const hs256 = await new SignJWT({ iss: issuer.url, sub: 'x', aud: 'wasm-signer' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new Uint8Array(32));
      expect(() => readUnverifiedToken(hs256)).toThrow(expect.objectContaining({ code: 'TOKEN_ALGORITHM_NOT_ALLOWED' }));
    });
  });

  describe('key rotation', () => {
    it('follows a new key: a token naming an unknown kid makes it fetch the JWKS again', async () => {
      const v = verifier({ jwksCooldownMs: 0 });
      await v.verify(await issuer.token(key), expected());
      const next = await testKey('key-2');
      issuer.published = [next];
      await expect(v.verify(await issuer.token(next), expected())).resolves.toBeDefined();
      expect(issuer.requests.jwks).toBe(2);
      // The retired key was dropped with the new fetch.
      expect((await refusal(v.verify(await issuer.token(key), expected()))).code).toBe('TOKEN_KEY_UNKNOWN');
    });

    it('fetches again at most once per cooldown, however many unknown kids arrive', async () => {
      const v = verifier({ jwksCooldownMs: 300 });
      await v.verify(await issuer.token(key), expected());
      const next = await testKey('key-2');
      issuer.published = [key, next];
      for (let i = 0; i < 5; i++) expect((await refusal(v.verify(await issuer.token(next), expected()))).code).toBe('TOKEN_KEY_UNKNOWN');
      expect(issuer.requests.jwks).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 350));
      await expect(v.verify(await issuer.token(next), expected())).resolves.toBeDefined();
      expect(issuer.requests.jwks).toBe(2);
    });

    it('verifies a token without kid against each key that fits its algorithm', async () => {
      const other = await testKey('key-0');
      issuer.published = [other, key];
      await expect(verifier().verify(await issuer.token(key, {}, { kid: null }), expected())).resolves.toBeDefined();
      const stranger = await testKey('x');
      expect((await refusal(verifier().verify(await issuer.token(stranger, {}, { kid: null }), expected()))).code).toBe('TOKEN_SIGNATURE_INVALID');
    });
  });

  describe('an issuer that cannot be reached (OIDC_ISSUER_UNAVAILABLE)', () => {
    it('when nothing answers at its address', async () => {
      const port = await closedPort();
      const error = await refusal(verifier().verify(await issuer.token(key, { iss: `http://127.0.0.1:${port}` }), { issuer: `http://127.0.0.1:${port}`, audiences: AUDIENCES }));
      expect(error.code).toBe('OIDC_ISSUER_UNAVAILABLE');
      expect(error.message).toContain(`http://127.0.0.1:${port}/.well-known/openid-configuration`);
      expect(error.transient).toBe(true);
    });

    it('when discovery answers an error, or names another issuer, or no https jwks_uri', async () => {
      issuer.fail.discovery = 500;
      expect((await refusal(verifier().verify(await issuer.token(key), expected()))).message).toContain('answered HTTP 500');
      issuer.fail = {};
      issuer.discoveryOverride = { issuer: 'https://someone.else', jwks_uri: `${issuer.url}/jwks` };
      expect((await refusal(verifier().verify(await issuer.token(key), expected()))).message).toContain('names the issuer "https://someone.else"');
      issuer.discoveryOverride = { issuer: issuer.url, jwks_uri: 'http://203.0.113.1/jwks' };
      expect((await refusal(verifier().verify(await issuer.token(key), expected()))).message).toContain('no usable jwks_uri');
    });

    it('when discovery is slower than the timeout: refused within it', async () => {
      issuer.delayMs.discovery = 2_000;
      const started = Date.now();
      const error = await refusal(verifier({ timeoutMs: 200 }).verify(await issuer.token(key), expected()));
      expect(error.code).toBe('OIDC_ISSUER_UNAVAILABLE');
      expect(error.message).toContain('did not answer within 200 ms');
      expect(Date.now() - started).toBeLessThan(1_500);
    });

    it('when the JWKS answers an error or is too slow', async () => {
      issuer.fail.jwks = 503;
      expect((await refusal(verifier().verify(await issuer.token(key), expected()))).code).toBe('OIDC_ISSUER_UNAVAILABLE');
      issuer.fail = {};
      issuer.delayMs.jwks = 2_000;
      expect((await refusal(verifier({ timeoutMs: 200 }).verify(await issuer.token(key), expected()))).code).toBe('OIDC_ISSUER_UNAVAILABLE');
    });

    it('asks a failing issuer again only after a pause, then recovers', async () => {
      issuer.fail.discovery = 502;
      const v = verifier({ discoveryRetryMs: 300 });
      for (let i = 0; i < 3; i++) expect((await refusal(v.verify(await issuer.token(key), expected()))).code).toBe('OIDC_ISSUER_UNAVAILABLE');
      expect(issuer.requests.discovery).toBe(1);
      issuer.fail = {};
      await new Promise((resolve) => setTimeout(resolve, 350));
      await expect(v.verify(await issuer.token(key), expected())).resolves.toBeDefined();
    });

    it('keeps the jwks_uri it found when a later discovery fails, but never keys it cannot fetch', async () => {
      const stale: string[] = [];
      // Discovery and keys are both out of date at every request here: each is asked for again.
      const v = verifier({ discoveryMaxAgeMs: 0, jwksMaxAgeMs: 0, onStaleDiscovery: (name) => stale.push(name) });
      await v.verify(await issuer.token(key), expected());
      issuer.fail.discovery = 500;
      await expect(v.verify(await issuer.token(key), expected())).resolves.toBeDefined();
      expect(stale).toEqual([issuer.url]);
      issuer.fail.jwks = 500;
      const error = await refusal(v.verify(await issuer.token(key), expected()));
      expect(error.code).toBe('OIDC_ISSUER_UNAVAILABLE');
      expect(error.message).toContain(`${issuer.url}/jwks`);
    });
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
