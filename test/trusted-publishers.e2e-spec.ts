import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import type { HttpService } from '../dev/stack/http-service';
import { LocalOidcIssuer, MINT_PATH } from '../dev/stack/oidc-issuer';
import type { JobView } from './support/jobs';
import { freePorts } from './support/private-stack';
import { RegistryReader } from './support/registry-http';
import { eventually, ServiceProcess, tempDir } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
const REQUESTED_BY = 'dev.wasm-signer.requested-by';

interface Problem {
  status: number;
  code: string;
  detail?: string;
}

/**
 * CI and workload OIDC tokens as callers, against a real service: tokens minted by the local stack's
 * OIDC issuer (the issuer of dev/stack, here run by the test on a port of its own so that its keys and
 * mint options are this checkout's), refused with their codes or admitted by a rule of the
 * TRUSTED_PUBLISHERS_FILE, whose identity then appears in the signature record and in the signed
 * payload, where a verification policy can require it.
 */
describe('trusted publishers (CI and workload OIDC tokens)', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryReader(registryHost);
  const run = randomUUID().slice(0, 8);
  const allowed = `${registryHost}/e2e-oidc-${run}/hello-http`;
  const dir = tempDir('trusted-publishers');
  const rulesFile = join(dir, 'trusted-publishers.json');
  let issuer: LocalOidcIssuer;
  let issuerHttp: HttpService;
  let unreachableIssuer: string;
  let database: TestDatabase;
  let service: ServiceProcess;

  const helloMain = (overrides: Record<string, unknown> = {}) => ({
    name: 'hello-main',
    issuer: issuer.issuer,
    claims: { repository: 'demo/hello-http', ref: 'refs/heads/main' },
    scopes: ['artifacts:write', 'signatures:write', 'verifications:write', 'records:read'],
    repositories: [allowed, `${allowed}/**`],
    ...overrides,
  });
  const unreachable = () => ({
    name: 'unreachable',
    issuer: unreachableIssuer,
    claims: { repository: 'demo/hello-http' },
    scopes: ['artifacts:write'],
    repositories: [`${allowed}`],
  });
  const writeRules = (rules: unknown[]) => writeFileSync(rulesFile, JSON.stringify({ rules }, null, 2));

  /** A token from the issuer's POST /mint, as the README's curl gets one. */
  const mint = async (options: Record<string, unknown> = {}): Promise<string> => {
    const response = await fetch(`${issuer.issuer}${MINT_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        aud: 'wasm-signer',
        sub: 'repo:demo/hello-http:ref:refs/heads/main',
        claims: { repository: 'demo/hello-http', ref: 'refs/heads/main' },
        ...options,
      }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { token: string }).token;
  };

  const asCaller = (token: string, path: string, init: RequestInit = {}) =>
    service.fetch(path, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` } });
  const publish = (token: string, repository: string, tag = 'v1') =>
    asCaller(token, `/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=${tag}`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: component });
  /** Any /v1 route authenticates first; this one then answers 404 without touching anything. */
  const probe = (token: string) => asCaller(token, '/v1/jobs/no-such-job');

  beforeAll(async () => {
    const [issuerPort, closedPort] = await freePorts(2);
    unreachableIssuer = `http://127.0.0.1:${closedPort}`;
    issuer = await LocalOidcIssuer.create({
      issuerUrl: `http://127.0.0.1:${issuerPort}`,
      keyFile: LocalOidcIssuer.keyFile(dir),
      namespace: 'ci',
      serviceAccount: 'publisher',
      tokenTtlSeconds: 600,
      tokenFile: join(dir, 'oidc', 'token'),
    });
    issuerHttp = issuer.createHttpService();
    await issuerHttp.listen('127.0.0.1', issuerPort!);
    writeRules([helloMain(), unreachable()]);
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start(testServiceEnv(database.url, 'trusted-publishers', { TRUSTED_PUBLISHERS_FILE: rulesFile }));
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
    await issuerHttp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('refuses a token, each fault with its code (401)', () => {
    const flipSignatureByte = (token: string) => {
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const bytes = Buffer.from(signature, 'base64url');
      bytes[7]! ^= 0x40;
      return `${header}.${payload}.${bytes.toString('base64url')}`;
    };
    /** Signed with a key the issuer does not publish, but naming the issuer and this service. */
    const strangerToken = async (alg: 'ES256' | 'HS256' = 'ES256') => {
      const now = Math.floor(Date.now() / 1000);
      const key = alg === 'HS256' ? new Uint8Array(32).fill(7) : (await generateKeyPair('ES256')).privateKey;
      return new SignJWT({ repository: 'demo/hello-http', ref: 'refs/heads/main' })
        .setProtectedHeader({ alg, kid: 'not-in-the-jwks', typ: 'JWT' })
        .setIssuer(issuer.issuer)
        .setSubject('repo:demo/hello-http:ref:refs/heads/main')
        .setAudience('wasm-signer')
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(key);
    };
    const cases: [string, () => Promise<string>, string][] = [
      ['from an issuer no rule names', () => mint({ issuer: 'https://issuer.invalid' }), 'TOKEN_ISSUER_NOT_TRUSTED'],
      ['for another audience', () => mint({ aud: 'sigstore' }), 'TOKEN_AUDIENCE_INVALID'],
      ['that expired', () => mint({ expiresIn: -600 }), 'TOKEN_EXPIRED'],
      ['not yet valid', () => mint({ notBefore: 600, expiresIn: 1200 }), 'TOKEN_NOT_YET_VALID'],
      ['with a signature byte flipped', async () => flipSignatureByte(await mint()), 'TOKEN_SIGNATURE_INVALID'],
      ['signed by a key the issuer does not publish', () => strangerToken(), 'TOKEN_KEY_UNKNOWN'],
      ['signed with a shared secret (HS256)', () => strangerToken('HS256'), 'TOKEN_ALGORITHM_NOT_ALLOWED'],
      ['that is not a JWT', () => Promise.resolve('eyJub3QiOiJqc29uIn0.e30.c2ln'), 'TOKEN_MALFORMED'],
    ];

    it.each(cases)('a token %s', async (_what, makeToken, code) => {
      const token = await makeToken();
      const response = await probe(token);
      const problem = (await response.json()) as Problem;
      expect({ status: response.status, code: problem.code }).toEqual({ status: 401, code });
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="wasm-signer", error="invalid_token"');
      expect(JSON.stringify(problem)).not.toContain(token.split('.')[2]);
    });

    it('never writes a token to the log', () => {
      expect(service.logs).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
    });
  });

  it('answers 503 OIDC_ISSUER_UNAVAILABLE, naming the issuer, when the issuer’s keys cannot be fetched', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ repository: 'demo/hello-http' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .setIssuer(unreachableIssuer)
      .setSubject('someone')
      .setAudience('wasm-signer')
      .setExpirationTime(now + 300)
      .sign((await generateKeyPair('ES256')).privateKey);
    const response = await probe(token);
    const problem = (await response.json()) as Problem;
    expect(response.status).toBe(503);
    expect(problem.code).toBe('OIDC_ISSUER_UNAVAILABLE');
    expect(problem.detail).toContain(`${unreachableIssuer}/.well-known/openid-configuration`);
  });

  it.each([
    ['another repository', { sub: 'repo:demo/other:ref:refs/heads/main', claims: { repository: 'demo/other', ref: 'refs/heads/main' } }],
    ['another branch', { sub: 'repo:demo/hello-http:ref:refs/heads/feature', claims: { repository: 'demo/hello-http', ref: 'refs/heads/feature' } }],
  ])('refuses a valid token from %s: no rule admits it (403 NO_MATCHING_PUBLISHER_RULE)', async (_what, options) => {
    const response = await publish(await mint(options), allowed);
    expect(response.status).toBe(403);
    expect(((await response.json()) as Problem).code).toBe('NO_MATCHING_PUBLISHER_RULE');
  });

  it('refuses to publish into a repository outside the rule’s patterns (403 REPOSITORY_NOT_ALLOWED), before anything is pushed', async () => {
    const elsewhere = `${registryHost}/e2e-oidc-${run}/other-app`;
    const response = await publish(await mint(), elsewhere);
    expect(response.status).toBe(403);
    expect(((await response.json()) as Problem).code).toBe('REPOSITORY_NOT_ALLOWED');
    expect(await registry.tags(elsewhere.slice(registryHost.length + 1))).toEqual([]);
  });

  describe('a token a rule admits', () => {
    const subject = 'repo:demo/hello-http:ref:refs/heads/main';
    let token: string;
    let principal: string;
    let job: JobView;

    beforeAll(async () => {
      token = await mint();
      principal = `oidc:${issuer.issuer}#${subject}`;
      const response = await publish(token, allowed, 'v1.0.0');
      expect(response.status).toBe(202);
      const accepted = (await response.json()) as JobView;
      // The caller follows its own job with its own token.
      job = await eventually(
        async () => {
          const view = (await (await asCaller(token, `/v1/jobs/${accepted.id}`)).json()) as JobView;
          return view.state === 'succeeded' || view.state === 'failed' ? view : undefined;
        },
        90_000,
        `job ${accepted.id} to finish`,
      );
    });

    it('publishes: the job succeeds', () => {
      expect(job.error).toBeNull();
      expect(job.state).toBe('succeeded');
    });

    it('is named in the signature records: issuer, subject, rule and the claims it matched', async () => {
      const digest = job.result!.manifestDigest as string;
      const response = await asCaller(token, `/v1/signatures?digest=${digest}`);
      expect(response.status).toBe(200);
      const { items } = (await response.json()) as { items: { format: string; requestedBy: unknown }[] };
      expect(items.map((item) => item.format).sort()).toEqual(['cosign-classic', 'sigstore-bundle']);
      for (const item of items) {
        expect(item.requestedBy).toEqual({
          kind: 'oidc',
          principal,
          issuer: issuer.issuer,
          subject,
          rule: 'hello-main',
          claims: { repository: 'demo/hello-http', ref: 'refs/heads/main' },
        });
      }
    });

    it('is carried inside the signed payload of the cosign classic signature, as read from the registry', async () => {
      const digest = job.result!.manifestDigest as string;
      const path = allowed.slice(registryHost.length + 1);
      const sig = await registry.manifest(path, `${digest.replace(':', '-')}.sig`);
      expect(sig.status).toBe(200);
      const payload = JSON.parse((await registry.blob(path, sig.json!.layers[0].digest))!.toString('utf8')) as { optional: Record<string, string> };
      expect(payload.optional[REQUESTED_BY]).toBe(principal);
    });

    it('lets a verification policy require that caller, and fails one requiring another', async () => {
      const verify = async (requestedBy: string) => {
        const response = await asCaller(token, '/v1/verifications', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            reference: `${allowed}:v1.0.0`,
            policy: {
              certificateIdentity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY,
              certificateOidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL,
              annotations: { [REQUESTED_BY]: requestedBy },
            },
          }),
        });
        expect(response.status).toBe(200);
        return (await response.json()) as { verified: boolean; signatures: { verified: boolean; error: { code: string } | null }[] };
      };
      const same = await verify(principal);
      expect(same.verified).toBe(true);
      expect(same.signatures.map((s) => s.verified)).toEqual([true, true]);
      const other = await verify(`oidc:${issuer.issuer}#repo:demo/other:ref:refs/heads/main`);
      expect(other.verified).toBe(false);
      expect(other.signatures.every((s) => s.error?.code === 'ANNOTATION_MISMATCH')).toBe(true);
    });

    it('may do only what its rule grants (no webhooks:manage here: 403 SCOPE_MISSING)', async () => {
      const response = await asCaller(token, '/v1/webhooks');
      expect(response.status).toBe(403);
      expect(((await response.json()) as Problem).code).toBe('SCOPE_MISSING');
    });
  });

  describe('rules changed in the file', () => {
    afterAll(() => writeRules([helloMain(), unreachable()]));

    it('take effect on the next request', async () => {
      const feature = await mint({ sub: 'repo:demo/hello-http:ref:refs/heads/feature', claims: { repository: 'demo/hello-http', ref: 'refs/heads/feature' } });
      expect((await probe(feature)).status).toBe(403);

      writeRules([helloMain({ name: 'hello-any-branch', claims: { repository: 'demo/hello-http', ref: 'refs/heads/*' }, scopes: ['records:read'] }), unreachable()]);
      const admitted = await probe(feature);
      expect(admitted.status).toBe(404);
      // The new rule's scopes hold too: it no longer grants artifacts:write.
      const upload = await publish(feature, allowed, 'feature');
      expect(upload.status).toBe(403);
      expect(((await upload.json()) as Problem).code).toBe('SCOPE_MISSING');
    });

    it('refuse every token with 503 while the changed file is not valid; API keys still work', async () => {
      writeFileSync(rulesFile, '{"rules": [ {"name": "half-written"');
      const response = await probe(await mint());
      expect(response.status).toBe(503);
      const problem = (await response.json()) as Problem;
      expect(problem.code).toBe('TRUSTED_PUBLISHER_RULES_INVALID');
      expect(problem.detail).toContain('TRUSTED_PUBLISHERS_FILE');
      expect((await service.fetch('/v1/jobs/no-such-job')).status).toBe(404);
      expect(service.logs).toContain('trusted-publisher rules file changed and cannot be used');

      writeRules([helloMain(), unreachable()]);
      expect((await probe(await mint())).status).toBe(404);
    });
  });

  it('refuses to start on a bad rule, naming the file variable, the rule and the problem (exit 78)', async () => {
    const badFile = join(dir, 'bad.json');
    writeFileSync(badFile, JSON.stringify({ rules: [helloMain(), helloMain({ name: 'no-claims', claims: {} })] }));
    const bad = await ServiceProcess.start(testServiceEnv(database.url, 'trusted-publishers-bad', { TRUSTED_PUBLISHERS_FILE: badFile }), { waitForLive: false });
    expect(await bad.exited).toBe(78);
    expect(bad.logs).toContain('TRUSTED_PUBLISHERS_FILE: rules[1] ("no-claims"): claims: must name at least one claim');
  });
});
