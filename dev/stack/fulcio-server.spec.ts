import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from '@sigstore/core';
import { decodeJwt, SignJWT } from 'jose';
import { loadOrCreateFulcioAuthority } from './fulcio-ca';
import { FulcioServer, OID_ISSUER_V1, OID_ISSUER_V2 } from './fulcio-server';
import type { HttpService } from './http-service';
import { LocalOidcIssuer, SIGSTORE_AUDIENCE } from './oidc-issuer';
import { OidcTokenVerifier } from './oidc-token-verifier';
import { freePort } from '../../test/support/service-process';

describe('local OIDC issuer and Fulcio', () => {
  let dir: string;
  let issuer: LocalOidcIssuer;
  let issuerHttp: HttpService;
  let fulcioHttp: HttpService;
  let fulcioUrl: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fulcio-spec-'));
    const issuerUrl = `http://127.0.0.1:${await freePort()}`;
    issuer = await LocalOidcIssuer.create({
      issuerUrl,
      keyFile: LocalOidcIssuer.keyFile(dir),
      namespace: 'builds',
      serviceAccount: 'wasm-signer',
      tokenTtlSeconds: 600,
      tokenFile: join(dir, 'oidc', 'token'),
    });
    issuerHttp = issuer.createHttpService();
    await issuerHttp.listen('127.0.0.1', Number(new URL(issuerUrl).port));
    const authority = await loadOrCreateFulcioAuthority(dir);
    fulcioHttp = new FulcioServer(authority, new OidcTokenVerifier({ issuer: issuerUrl, audience: SIGSTORE_AUDIENCE })).createHttpService();
    await fulcioHttp.listen('127.0.0.1', 0);
    fulcioUrl = `http://127.0.0.1:${fulcioHttp.port}`;
  });

  afterAll(async () => {
    await fulcioHttp.close();
    await issuerHttp.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function requestCertificate(token: string, options: { challenge?: string } = {}) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const challenge = options.challenge ?? String(decodeJwt(token).sub);
    const response = await fetch(`${fulcioUrl}/api/v2/signingCert`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        credentials: { oidcIdentityToken: token },
        publicKeyRequest: {
          publicKey: { algorithm: 'ECDSA', content: publicKey.export({ format: 'pem', type: 'spki' }).toString() },
          proofOfPossession: sign('sha256', Buffer.from(challenge), privateKey).toString('base64'),
        },
      }),
    });
    return { status: response.status, body: (await response.json()) as { code?: number; message?: string; signedCertificateEmbeddedSct?: { chain: { certificates: string[] } } } };
  }

  async function mint(options: Record<string, unknown>): Promise<string> {
    const response = await fetch(`${issuer.issuer}/mint`, { method: 'POST', body: JSON.stringify(options) });
    expect(response.status).toBe(200);
    return ((await response.json()) as { token: string }).token;
  }

  it('serves discovery and a JWKS that verifies its tokens', async () => {
    const discovery = (await (await fetch(`${issuer.issuer}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
    expect(discovery.issuer).toBe(issuer.issuer);
    const jwks = (await (await fetch(discovery.jwks_uri)).json()) as { keys: Array<{ kid: string; kty: string; d?: string }> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', alg: 'ES256' });
    expect(jwks.keys[0]!.d).toBeUndefined();
  });

  it('mints Kubernetes-shaped workload tokens', async () => {
    const { token, expiresAt } = await issuer.mint();
    const claims = decodeJwt(token) as Record<string, unknown>;
    expect(claims).toMatchObject({
      iss: issuer.issuer,
      aud: ['sigstore'],
      sub: 'system:serviceaccount:builds:wasm-signer',
      'kubernetes.io': { namespace: 'builds', serviceaccount: { name: 'wasm-signer', uid: expect.stringMatching(/^[0-9a-f-]{36}$/) } },
    });
    expect((claims.exp as number) - (claims.iat as number)).toBe(600);
    expect(expiresAt.getTime()).toBe((claims.exp as number) * 1000);
  });

  it('writes the token file atomically with mode 0600, replacing it on refresh', async () => {
    const first = await issuer.writeTokenFile();
    const inodeBefore = (await stat(issuer.tokenFile)).ino;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const second = await issuer.writeTokenFile();
    const info = await stat(issuer.tokenFile);
    expect(info.mode & 0o777).toBe(0o600);
    expect(info.ino).not.toBe(inodeBefore);
    expect(await readFile(issuer.tokenFile, 'utf8')).toBe(second.token);
    expect(second.token).not.toBe(first.token);
    expect(issuer.refreshDelayMs()).toBe(480_000);
  });

  it('certifies a valid token with the Kubernetes SAN, the issuer extensions and an SCT', async () => {
    const { status, body } = await requestCertificate((await issuer.mint()).token);
    expect(status).toBe(201);
    const pems = body.signedCertificateEmbeddedSct!.chain.certificates;
    expect(pems[0]!.split('\n').every((line) => line.length <= 64)).toBe(true);
    const [leaf, root] = pems.map((p) => X509Certificate.parse(p));
    expect(leaf!.subjectAltName).toBe('https://kubernetes.io/namespaces/builds/serviceaccounts/wasm-signer');
    expect(leaf!.extension(OID_ISSUER_V1)!.value.toString('ascii')).toBe(issuer.issuer);
    expect(leaf!.extension(OID_ISSUER_V2)!.valueObj.subs[0]!.value.toString('utf8')).toBe(issuer.issuer);
    expect(leaf!.extSCT!.signedCertificateTimestamps).toHaveLength(1);
    expect(leaf!.verify(root)).toBe(true);
    expect(leaf!.notAfter.getTime() - leaf!.notBefore.getTime()).toBe(10 * 60 * 1000);
  });

  it('takes the SAN from the kubernetes.io claim of the token', async () => {
    const { status, body } = await requestCertificate(await mint({ namespace: 'other-ns', serviceAccount: 'other-sa' }));
    expect(status).toBe(201);
    expect(X509Certificate.parse(body.signedCertificateEmbeddedSct!.chain.certificates[0]!).subjectAltName).toBe(
      'https://kubernetes.io/namespaces/other-ns/serviceaccounts/other-sa',
    );
  });

  it.each([
    ['an expired token', { expiresIn: -60 }, /token expired/],
    ['a token for another audience', { aud: ['not-sigstore'] }, /invalid audience/],
    ['a token from another issuer', { issuer: 'https://issuer.invalid' }, /untrusted issuer/],
  ])('refuses %s with 401 and a message naming the problem', async (_, options, message) => {
    const { status, body } = await requestCertificate(await mint(options));
    expect(status).toBe(401);
    expect(body.code).toBe(16);
    expect(body.message).toMatch(/^There was an error processing the identity token: /);
    expect(body.message).toMatch(message);
  });

  it('refuses a token signed by a key the issuer does not publish', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const forged = await new SignJWT({ 'kubernetes.io': { namespace: 'builds', serviceaccount: { name: 'wasm-signer' } } })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(issuer.issuer)
      .setSubject('system:serviceaccount:builds:wasm-signer')
      .setAudience('sigstore')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const { status, body } = await requestCertificate(forged);
    expect(status).toBe(401);
    expect(body.message).toMatch(/invalid signature/);
  });

  it('refuses a proof of possession that is not the subject signed by the requested key', async () => {
    const { status, body } = await requestCertificate((await issuer.mint()).token, { challenge: 'someone else' });
    expect(status).toBe(400);
    expect(body.message).toMatch(/signature supplied in the request could not be verified/);
  });

  it('refuses malformed requests with 400 or 401', async () => {
    const post = (body: unknown) => fetch(`${fulcioUrl}/api/v2/signingCert`, { method: 'POST', body: JSON.stringify(body) });
    expect((await post({ publicKeyRequest: {} })).status).toBe(401);
    expect((await post({ credentials: { oidcIdentityToken: 'not a jwt' }, publicKeyRequest: { publicKey: { content: 'x' }, proofOfPossession: 'AA==' } })).status).toBe(400);
    expect((await requestCertificate('not.a.jwt', { challenge: 'x' })).status).toBe(401);
  });

  it('refuses invalid mint requests', async () => {
    for (const body of [{ expiresIn: 'soon' }, { aud: [] }, { namespace: 'Not_A_Name' }, { unknown: true }]) {
      const response = await fetch(`${issuer.issuer}/mint`, { method: 'POST', body: JSON.stringify(body) });
      expect(response.status).toBe(400);
    }
  });

  it('keeps the CA root across restarts, and certificates from a restarted CA chain to it', async () => {
    const before = await loadOrCreateFulcioAuthority(dir);
    const after = await loadOrCreateFulcioAuthority(dir);
    expect(after.rootCertificate.equals(before.rootCertificate)).toBe(true);
    expect(after.ctLog.logId.equals(before.ctLog.logId)).toBe(true);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const leaf = X509Certificate.parse(await after.issueCertificate({ publicKey: publicKey.export({ format: 'der', type: 'spki' }), subjectAltName: 'https://example.test/id' }));
    expect(leaf.verify(X509Certificate.parse(before.rootCertificate))).toBe(true);
  });
});
