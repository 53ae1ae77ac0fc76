import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import type { HttpService } from './http-service';
import { DISCOVERY_PATH, LocalOidcIssuer, MINT_PATH, parseMintOptions } from './oidc-issuer';
import { freePort } from '../../test/support/service-process';

const NOW = new Date('2026-03-01T12:00:00Z');
const NOW_SECONDS = NOW.getTime() / 1000;

describe('LocalOidcIssuer POST /mint', () => {
  let dir: string;
  let issuer: LocalOidcIssuer;
  let http: HttpService;
  let base: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oidc-issuer-spec-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    issuer = await LocalOidcIssuer.create({
      issuerUrl: base,
      keyFile: LocalOidcIssuer.keyFile(dir),
      namespace: 'ci',
      serviceAccount: 'publisher',
      tokenTtlSeconds: 600,
      tokenFile: join(dir, 'token'),
      now: () => NOW,
    });
    http = issuer.createHttpService();
    await http.listen('127.0.0.1', port);
  });

  afterAll(async () => {
    await http?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const mint = async (body: unknown) => {
    const response = await fetch(`${base}${MINT_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as { token?: string; expiresAt?: string; error_description?: string } };
  };

  it('adds the claims asked for beside the registered ones, and keeps aud, sub and the lifetime', async () => {
    const { status, body } = await mint({
      aud: 'wasm-signer',
      sub: 'repo:demo/hello-http:ref:refs/heads/main',
      expiresIn: 300,
      claims: { repository: 'demo/hello-http', ref: 'refs/heads/main', run_attempt: 2, nested: { a: ['b'] } },
    });
    expect(status).toBe(200);
    const claims = decodeJwt(body.token!);
    expect(claims).toMatchObject({
      iss: base,
      aud: ['wasm-signer'],
      sub: 'repo:demo/hello-http:ref:refs/heads/main',
      repository: 'demo/hello-http',
      ref: 'refs/heads/main',
      run_attempt: 2,
      nested: { a: ['b'] },
      iat: NOW_SECONDS,
      nbf: NOW_SECONDS,
      exp: NOW_SECONDS + 300,
      'kubernetes.io': { namespace: 'ci' },
    });
    expect(body.expiresAt).toBe(new Date((NOW_SECONDS + 300) * 1000).toISOString());
  });

  it('signs them with the key its discovery document and JWKS publish', async () => {
    const { body } = await mint({ aud: 'wasm-signer', claims: { repository: 'demo/hello-http' } });
    const discovery = (await (await fetch(`${base}${DISCOVERY_PATH}`)).json()) as { jwks_uri: string };
    const { payload } = await jwtVerify(body.token!, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
      issuer: base,
      audience: 'wasm-signer',
      currentDate: NOW,
    });
    expect(payload.repository).toBe('demo/hello-http');
  });

  it('sets nbf notBefore seconds from now, for tokens that are not yet valid', async () => {
    const { body } = await mint({ notBefore: 3600 });
    const claims = decodeJwt(body.token!);
    expect(claims.nbf).toBe(NOW_SECONDS + 3600);
    expect(claims.iat).toBe(NOW_SECONDS);
  });

  it('lets claims replace the kubernetes.io claim', async () => {
    const { body } = await mint({ claims: { 'kubernetes.io': { namespace: 'other' } } });
    expect(decodeJwt(body.token!)['kubernetes.io']).toEqual({ namespace: 'other' });
  });

  it.each([
    [{ claims: { iss: 'https://elsewhere' } }, 'claims may not set iss'],
    [{ claims: { exp: 1, nbf: 2 } }, 'claims may not set exp, nbf'],
    [{ claims: ['repository'] }, 'claims must be a JSON object'],
    [{ claims: { '': 'x' } }, 'claim names have 1-128 characters'],
    [{ notBefore: 1.5 }, 'notBefore must be an integer'],
    [{ notBefore: 200_000 }, 'notBefore must be an integer'],
    [{ claimz: {} }, 'unknown mint option(s): claimz'],
  ])('refuses %j with 400 naming the problem', async (request, message) => {
    const { status, body } = await mint(request);
    expect(status).toBe(400);
    expect(body.error_description).toContain(message);
  });

  it('refuses more than 64 extra claims', () => {
    const claims = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`c${i}`, 'x']));
    expect(() => parseMintOptions({ claims })).toThrow('claims may hold at most 64 claims');
  });

  it('refuses registered claims in claims when called directly, too', async () => {
    await expect(issuer.mint({ claims: { sub: 'someone' } })).rejects.toThrow('claims may not set sub');
  });
});
