import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCOPES, type Scope } from '../src/access/scopes';
import { finishedJob, type JobView } from './support/jobs';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, TEST_ADMIN_KEY, testEnvironment, testServiceEnv } from './support/test-environment';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));

interface Operation {
  'x-required-scope'?: string;
  security?: Record<string, string[]>[];
  responses: Record<string, unknown>;
}
interface CreatedKey {
  id: string;
  key: string;
  name: string;
}
interface Problem {
  status: number;
  code: string;
  detail?: string;
}

/**
 * Access control end to end: the 401/403 matrix of every operation in the OpenAPI document (so a route
 * added later is covered without touching this file), repository patterns, ownership of jobs and
 * subscriptions, the caller inside the signed payload, and revocation seen by a second API process.
 */
describe('access control', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryReader(registryHost);
  let database: TestDatabase;
  let service: ServiceProcess;
  let secondApi: ServiceProcess;
  let document: { paths: Record<string, Record<string, Operation>> };

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    // An admission policy, so that POST /v1/admission answers (its 503 without one is a configuration state, not access control).
    const admissionPolicy = join(mkdtempSync(join(tmpdir(), 'wasm-signer-access-admission-')), 'admission-policy.json');
    writeFileSync(
      admissionPolicy,
      JSON.stringify({
        images: [
          {
            pattern: `${env.stackEnv.LOCAL_REGISTRY}/**`,
            policy: { certificateIdentity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY, certificateOidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL },
          },
        ],
      }),
    );
    const serviceEnv = testServiceEnv(database.url, 'access', { METRICS_REQUIRE_AUTH: 'true', WEBHOOK_ALLOWLIST: '127.0.0.1', ADMISSION_POLICY_FILE: admissionPolicy });
    service = await ServiceProcess.start(serviceEnv);
    // A second API process on the same database and Redis, as another replica.
    secondApi = await ServiceProcess.start({ ...serviceEnv, ROLE: 'api' });
    document = (await (await service.fetch('/docs-json')).json()) as typeof document;
  }, 60_000);

  afterAll(async () => {
    await secondApi?.stop('SIGTERM');
    await service?.stop('SIGTERM');
    await database?.drop();
  });

  const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });
  const json = (credential: string) => ({ ...bearer(credential), 'content-type': 'application/json' });

  async function createKey(body: { scopes: string[]; repositories: string[]; name?: string; expiresAt?: string }, via = service): Promise<CreatedKey> {
    const response = await via.fetch('/v1/api-keys', { method: 'POST', headers: json(TEST_ADMIN_KEY), body: JSON.stringify({ name: `key-${randomUUID().slice(0, 8)}`, ...body }) });
    expect(response.status).toBe(201);
    return (await response.json()) as CreatedKey;
  }

  const operations = () =>
    Object.entries(document.paths).flatMap(([path, item]) => Object.entries(item).map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })));

  describe('every operation, from the OpenAPI document', () => {
    it('names its scope and the bearer scheme on every /v1 route', () => {
      const v1 = operations().filter((o) => o.path.startsWith('/v1/'));
      expect(v1.length).toBeGreaterThan(20);
      for (const { path, method, operation } of v1) {
        expect({ route: `${method} ${path}`, scope: operation['x-required-scope'], security: operation.security }).toEqual({
          route: `${method} ${path}`,
          scope: expect.stringMatching(new RegExp(`^(${[...SCOPES, 'authenticated'].join('|')})$`)),
          security: [{ bearer: [] }],
        });
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403']));
      }
    });

    it('leaves health and the API documents open', async () => {
      for (const path of ['/health/live', '/docs-json']) expect((await fetch(`${service.baseUrl}${path}`)).status).toBe(200);
      expect((await fetch(`${service.baseUrl}/health/ready`)).status).toBeLessThan(500);
    });

    // Path parameters filled with values that are well-formed but name nothing.
    const concrete = (path: string) =>
      path
        .replace('{logIndex}', '1')
        .replace('{deliveryId}', 'msg_00000000000000000000000000000000')
        .replace(/\{[^}]+\}/g, () => randomUUID());
    const send = (method: string, path: string, headers: Record<string, string>) =>
      service.fetch(concrete(path), {
        method,
        headers: { ...headers, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
        body: method === 'POST' ? '{}' : undefined,
        signal: AbortSignal.timeout(10_000),
      });

    it('answers every protected operation: 401 without a credential or with a bad one, 403 without the scope, neither with it', async () => {
      const protectedOperations = operations().filter((o) => o.operation['x-required-scope'] !== undefined);
      // /metrics is protected here because this service runs with METRICS_REQUIRE_AUTH=true.
      expect(protectedOperations.map((o) => o.path)).toContain('/metrics');
      const keys = new Map<string, CreatedKey>();
      const keyWith = async (scopes: Scope[]) => {
        const name = scopes.join(',');
        if (!keys.has(name)) keys.set(name, await createKey({ scopes, repositories: ['**'] }));
        return keys.get(name)!.key;
      };
      const matrix: Record<string, number[]> = {};
      for (const { path, method, operation } of protectedOperations) {
        const scope = operation['x-required-scope']!;
        const route = `${method} ${path}`;

        const none = await send(method, path, { authorization: '' });
        expect({ route, status: none.status, code: ((await none.json()) as Problem).code }).toEqual({ route, status: 401, code: 'CREDENTIAL_MISSING' });
        expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="wasm-signer"/);

        const unknown = await send(method, path, bearer(`wsk_${'A'.repeat(43)}`));
        expect({ route, status: unknown.status, code: ((await unknown.json()) as Problem).code }).toEqual({ route, status: 401, code: 'API_KEY_INVALID' });

        const withScope = await send(method, path, bearer(await keyWith(scope === 'authenticated' ? ['records:read'] : [scope as Scope])));
        await withScope.body?.cancel();
        expect({ route, allowed: ![401, 403].includes(withScope.status) && withScope.status < 500 }).toEqual({ route, allowed: true });

        if (scope === 'authenticated') {
          matrix[route] = [none.status, unknown.status, withScope.status];
          continue;
        }
        const others = SCOPES.filter((s) => s !== scope && s !== 'admin');
        const without = await send(method, path, bearer(await keyWith(others)));
        const problem = (await without.json()) as Problem & { requiredScope?: string };
        expect({ route, status: without.status, code: problem.code, requiredScope: problem.requiredScope }).toEqual({
          route,
          status: 403,
          code: 'SCOPE_MISSING',
          requiredScope: scope,
        });
        matrix[route] = [none.status, unknown.status, without.status, withScope.status];
      }
      expect(Object.keys(matrix).length).toBe(protectedOperations.length);
    }, 180_000);

    it('refuses malformed credentials with a clear code', async () => {
      const cases: [string, string][] = [
        ['Basic dXNlcjpwYXNz', 'CREDENTIAL_MALFORMED'],
        ['Bearer', 'CREDENTIAL_MALFORMED'],
        ['Bearer not-a-key-nor-a-jwt', 'CREDENTIAL_MALFORMED'],
        ['Bearer wsk_short', 'API_KEY_INVALID'],
        [`Bearer ${'x'.repeat(9000)}`, 'CREDENTIAL_MALFORMED'],
      ];
      for (const [authorization, code] of cases) {
        const response = await service.fetch('/v1/trust-roots', { headers: { authorization } });
        const problem = (await response.json()) as Problem;
        expect({ authorization: authorization.slice(0, 30), status: response.status, code: problem.code }).toEqual({
          authorization: authorization.slice(0, 30),
          status: 401,
          code,
        });
        expect(JSON.stringify(problem)).not.toContain(authorization.slice(7, 40) || 'never');
      }
    });
  });

  describe('API keys', () => {
    it('are shown once, stored only as a hash, listed without the key, and admin-only', async () => {
      const created = await createKey({ name: 'ci-shown-once', scopes: ['records:read'], repositories: [`${registryHost}/keys/**`] });
      expect(created.key).toMatch(/^wsk_[A-Za-z0-9_-]{43}$/);
      expect(created).toMatchObject({ name: 'ci-shown-once', hint: created.key.slice(0, 8), state: 'active', createdBy: 'api-key:bootstrap', scopes: ['records:read'] });

      const rows = await database.query<Record<string, unknown>>('select * from api_keys where id = $1', [created.id]);
      expect(JSON.stringify(rows)).not.toContain(created.key);
      expect(JSON.stringify(rows)).not.toContain(created.key.slice(8));

      const list = (await (await service.fetch('/v1/api-keys?limit=200')).json()) as { items: Record<string, unknown>[] };
      const listed = list.items.find((item) => item.id === created.id)!;
      expect(listed).toMatchObject({ id: created.id, name: 'ci-shown-once', state: 'active' });
      expect(listed).not.toHaveProperty('key');
      expect(JSON.stringify(list)).not.toContain(created.key);

      const asReader = await service.fetch('/v1/api-keys', { headers: bearer(created.key) });
      expect(asReader.status).toBe(403);
      expect(((await asReader.json()) as Problem).code).toBe('SCOPE_MISSING');
    });

    it('refuses bad scopes, patterns and expiries', async () => {
      const attempt = async (body: Record<string, unknown>) => {
        const response = await service.fetch('/v1/api-keys', {
          method: 'POST',
          headers: json(TEST_ADMIN_KEY),
          body: JSON.stringify({ name: 'bad', scopes: ['records:read'], repositories: ['**'], ...body }),
        });
        return { status: response.status, problem: (await response.json()) as Problem };
      };
      expect(await attempt({ scopes: ['root'] })).toMatchObject({ status: 400, problem: { code: 'VALIDATION_FAILED' } });
      expect(await attempt({ repositories: ['ghcr.io/a/../b'] })).toMatchObject({ status: 400, problem: { code: 'VALIDATION_FAILED', detail: expect.stringContaining('..') } });
      expect(await attempt({ repositories: ['ghcr.io'] })).toMatchObject({ status: 400, problem: { code: 'VALIDATION_FAILED' } });
      expect(await attempt({ expiresAt: '2020-01-01T00:00:00Z' })).toMatchObject({ status: 400, problem: { detail: expect.stringContaining('future') } });
      expect(await attempt({ expiresAt: '2999-01-01T00:00:00Z' })).toMatchObject({ status: 400, problem: { detail: expect.stringContaining('API_KEY_MAX_TTL_DAYS') } });
      expect(await attempt({ name: '' })).toMatchObject({ status: 400 });
      expect(await attempt({ name: 'x'.repeat(101) })).toMatchObject({ status: 400 });
    });

    it('stop working once expired, also where they were looked up before', async () => {
      const expiresAt = new Date(Date.now() + 3_000);
      const created = await createKey({ scopes: ['records:read'], repositories: ['**'], expiresAt: expiresAt.toISOString() });
      // Used (so known to both processes) before it expires.
      expect((await service.fetch('/v1/trust-roots', { headers: bearer(created.key) })).status).toBe(403);
      expect((await secondApi.fetch('/v1/signatures', { headers: bearer(created.key) })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt.getTime() - Date.now()) + 200));
      for (const api of [service, secondApi]) {
        const response = await api.fetch('/v1/signatures', { headers: bearer(created.key) });
        expect(response.status).toBe(401);
        expect(((await response.json()) as Problem).code).toBe('API_KEY_EXPIRED');
      }
    });

    it('are refused on the next request once revoked, by every API process', async () => {
      const created = await createKey({ scopes: ['records:read'], repositories: ['**'] });
      for (const api of [service, secondApi]) expect((await api.fetch('/v1/signatures', { headers: bearer(created.key) })).status).toBe(200);

      const revoked = await service.fetch(`/v1/api-keys/${created.id}`, { method: 'DELETE' });
      expect(revoked.status).toBe(200);
      expect(await revoked.json()).toMatchObject({ id: created.id, state: 'revoked', revokedBy: 'api-key:bootstrap' });

      for (const api of [secondApi, service]) {
        const response = await api.fetch('/v1/signatures', { headers: bearer(created.key) });
        expect(response.status).toBe(401);
        expect(((await response.json()) as Problem).code).toBe('API_KEY_REVOKED');
      }
      // Revoking again keeps the first revocation; an unknown id is a 404.
      expect(((await (await service.fetch(`/v1/api-keys/${created.id}`, { method: 'DELETE' })).json()) as { revokedAt: string }).revokedAt).toBeDefined();
      expect((await service.fetch(`/v1/api-keys/${randomUUID()}`, { method: 'DELETE' })).status).toBe(404);
    });
  });

  describe('repositories and ownership', () => {
    const writer = ['artifacts:write', 'signatures:write', 'verifications:write', 'records:read'] as Scope[];
    const repoA = `${registryHost}/acl-a-${randomUUID().slice(0, 8)}`;
    const repoB = `${registryHost}/acl-b-${randomUUID().slice(0, 8)}`;
    let keyA: CreatedKey;
    let keyB: CreatedKey;
    let jobA: JobView;
    let jobB: JobView;

    const upload = (key: string, repository: string, tag = 'v1') =>
      service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=${tag}`, {
        method: 'POST',
        headers: { ...bearer(key), 'content-type': 'application/wasm' },
        body: component,
      });

    beforeAll(async () => {
      keyA = await createKey({ name: 'team-a', scopes: writer, repositories: [repoA, `${repoA}/**`] });
      keyB = await createKey({ name: 'team-b', scopes: writer, repositories: [`${repoB}/**`, repoB] });
      const [a, b] = await Promise.all([upload(keyA.key, `${repoA}/app`), upload(keyB.key, `${repoB}/app`)]);
      expect([a.status, b.status]).toEqual([202, 202]);
      jobA = await finishedJob(service, ((await a.json()) as JobView).id);
      jobB = await finishedJob(service, ((await b.json()) as JobView).id);
      expect([jobA.state, jobB.state]).toEqual(['succeeded', 'succeeded']);
    }, 120_000);

    it('refuses to push, sign or verify outside the key’s patterns, before the registry is touched', async () => {
      const path = `${repoB.slice(registryHost.length + 1)}/intruder`;
      const pushed = await upload(keyA.key, `${repoB}/intruder`);
      expect(pushed.status).toBe(403);
      expect(await pushed.json()).toMatchObject({ code: 'REPOSITORY_NOT_ALLOWED', repository: `${repoB}/intruder` });
      expect(await registry.tags(path)).toEqual([]);

      const signed = await service.fetch('/v1/signatures', { method: 'POST', headers: json(keyA.key), body: JSON.stringify({ reference: `${repoB}/app:v1` }) });
      expect(signed.status).toBe(403);
      expect(((await signed.json()) as Problem).code).toBe('REPOSITORY_NOT_ALLOWED');

      const verified = await service.fetch('/v1/verifications', {
        method: 'POST',
        headers: json(keyA.key),
        body: JSON.stringify({ reference: `${repoB}/app:v1`, policy: { certificateIdentityRegExp: '.*', certificateOidcIssuerRegExp: '.*' } }),
      });
      expect(verified.status).toBe(403);
      expect(((await verified.json()) as Problem).code).toBe('REPOSITORY_NOT_ALLOWED');

      // Another spelling of a host the key does not name, and path tricks, do not get through either.
      const otherHost = await upload(keyA.key, `localhost:${registryHost.split(':')[1]}/${repoA.slice(registryHost.length + 1)}/app`);
      expect(otherHost.status).toBe(403);
      const dotted = await upload(keyA.key, `${repoA}/../${repoB.slice(registryHost.length + 1)}/app`);
      expect(dotted.status).toBe(400);
      expect(((await dotted.json()) as Problem).code).toBe('INVALID_REFERENCE');
    });

    it('lets a caller see its own jobs only (admins see all)', async () => {
      for (const suffix of ['', '/events']) {
        const foreign = await service.fetch(`/v1/jobs/${jobB.id}${suffix}`, { headers: bearer(keyA.key) });
        expect(foreign.status).toBe(404);
        expect(((await foreign.json()) as Problem).code).toBe('JOB_NOT_FOUND');
      }
      expect((await service.fetch(`/v1/jobs/${jobA.id}`, { headers: bearer(keyA.key) })).status).toBe(200);
      expect((await service.fetch(`/v1/jobs/${jobB.id}`)).status).toBe(200);
    });

    it('records who asked with each signature, and signs it into both payloads', async () => {
      const page = (await (await service.fetch(`/v1/signatures?repository=${encodeURIComponent(`${repoA}/app`)}`)).json()) as {
        items: { id: string; format: string; requestedBy: Record<string, unknown>; manifestDigest: string }[];
      };
      expect(page.items.map((item) => item.format).sort()).toEqual(['cosign-classic', 'sigstore-bundle']);
      for (const item of page.items) {
        expect(item.requestedBy).toEqual({ kind: 'api-key', keyId: keyA.id, name: 'team-a', principal: `api-key:${keyA.id}` });
      }
      const digest = page.items[0]!.manifestDigest;
      const path = `${repoA.slice(registryHost.length + 1)}/app`;

      // cosign classic: the simple-signing payload's `optional` map.
      const sig = await registry.manifest(path, `${digest.replace(':', '-')}.sig`);
      const payload = JSON.parse((await registry.blob(path, sig.json!.layers[0].digest))!.toString('utf8')) as { optional: Record<string, string> };
      expect(payload.optional).toEqual({ 'dev.wasm-signer.requested-by': `api-key:${keyA.id}` });

      // Sigstore bundle: the in-toto statement's subject annotations.
      const bundleRecord = page.items.find((item) => item.format === 'sigstore-bundle')!;
      const record = (await (await service.fetch(`/v1/signatures/${bundleRecord.id}`)).json()) as { bundle: { dsseEnvelope: { payload: string } } };
      const statement = JSON.parse(Buffer.from(record.bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as { subject: { annotations: Record<string, string> }[] };
      expect(statement.subject[0]!.annotations).toEqual({ 'dev.wasm-signer.requested-by': `api-key:${keyA.id}` });
    });

    it('lets a verification require the caller: the one who asked passes, another does not', async () => {
      const verify = async (requestedBy: string) => {
        const response = await service.fetch('/v1/verifications', {
          method: 'POST',
          headers: json(TEST_ADMIN_KEY),
          body: JSON.stringify({
            reference: `${repoA}/app:v1`,
            policy: { certificateIdentityRegExp: '.+', certificateOidcIssuerRegExp: '.+', annotations: { 'dev.wasm-signer.requested-by': requestedBy } },
          }),
        });
        expect(response.status).toBe(200);
        return (await response.json()) as { verified: boolean; signatures: { format: string; verified: boolean }[] };
      };
      const right = await verify(`api-key:${keyA.id}`);
      expect(right.verified).toBe(true);
      expect(right.signatures.map((s) => [s.format, s.verified]).sort()).toEqual([
        ['cosign-classic', true],
        ['sigstore-bundle', true],
      ]);
      const wrong = await verify(`api-key:${keyB.id}`);
      expect(wrong.verified).toBe(false);
      expect(wrong.signatures.every((s) => !s.verified)).toBe(true);
    });

    it('keeps webhook subscriptions to their owner', async () => {
      const manager = (await createKey({ scopes: ['webhooks:manage'], repositories: ['**'] })).key;
      const other = (await createKey({ scopes: ['webhooks:manage'], repositories: ['**'] })).key;
      const created = await service.fetch('/v1/webhooks', {
        method: 'POST',
        headers: json(manager),
        body: JSON.stringify({ url: 'http://127.0.0.1:9/ci', events: ['job.succeeded'] }),
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };
      const listedFor = async (key: string) =>
        ((await (await service.fetch('/v1/webhooks', { headers: bearer(key) })).json()) as { items: { id: string }[] }).items.map((w) => w.id);
      expect(await listedFor(manager)).toContain(id);
      expect(await listedFor(other)).not.toContain(id);
      expect((await service.fetch(`/v1/webhooks/${id}`, { headers: bearer(other) })).status).toBe(404);
      expect((await service.fetch(`/v1/webhooks/${id}`, { method: 'DELETE', headers: bearer(other) })).status).toBe(404);
      expect((await service.fetch(`/v1/webhooks/${id}/rotate-secret`, { method: 'POST', headers: bearer(other) })).status).toBe(404);
      // Another caller can neither pause nor re-enable it, nor read its deliveries; its owner can.
      for (const action of ['disable', 'enable']) {
        const refused = await service.fetch(`/v1/webhooks/${id}/${action}`, { method: 'POST', headers: bearer(other) });
        expect({ action, status: refused.status, code: ((await refused.json()) as Problem).code }).toEqual({ action, status: 404, code: 'WEBHOOK_NOT_FOUND' });
      }
      expect((await service.fetch(`/v1/webhooks/${id}/deliveries`, { headers: bearer(other) })).status).toBe(404);
      expect((await service.fetch(`/v1/webhooks/${id}`, { headers: bearer(manager) })).status).toBe(200);
      const paused = await service.fetch(`/v1/webhooks/${id}/disable`, { method: 'POST', headers: bearer(manager) });
      expect(paused.status).toBe(200);
      expect(await paused.json()).toMatchObject({ disabledReason: expect.stringContaining(`disabled by api-key:`) });
      const enabled = await service.fetch(`/v1/webhooks/${id}/enable`, { method: 'POST', headers: bearer(manager) });
      expect(enabled.status).toBe(200);
      expect(await enabled.json()).toMatchObject({ id, disabledAt: null, disabledReason: null, consecutiveFailures: 0, redelivered: [] });
      expect((await service.fetch(`/v1/webhooks/${id}`)).status).toBe(200);
      expect((await service.fetch(`/v1/webhooks/${id}`, { method: 'DELETE', headers: bearer(manager) })).status).toBe(204);
    });
  });
});
