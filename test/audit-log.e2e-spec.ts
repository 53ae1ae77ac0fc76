import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedJob } from './support/jobs';
import { ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, TEST_ADMIN_KEY, testEnvironment, testServiceEnv } from './support/test-environment';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
const operationIds = new Set(
  Object.values(JSON.parse(readFileSync(join(REPO_ROOT, 'openapi/openapi.json'), 'utf8')).paths as Record<string, Record<string, { operationId: string }>>).flatMap((item) =>
    Object.values(item).map((operation) => operation.operationId),
  ),
);

interface AuditEvent {
  id: string;
  time: string;
  completedAt: string | null;
  requestId: string;
  method: string;
  route: string | null;
  path: string;
  action: string;
  caller: { kind: string; principal: string; keyId?: string; name?: string } | null;
  credential: { kind: string; keyHint?: string; unverifiedIssuer?: string } | null;
  target: { repository: string | null; reference: string | null; id: string | null };
  outcome: string;
  status: number | null;
  code: string | null;
  sourceAddress: string;
}

interface AuditPage {
  items: AuditEvent[];
  nextCursor: string | null;
  next: string | null;
}

/**
 * The audit log against a real service and PostgreSQL: each change and each refusal leaves exactly one
 * entry saying who, what, which target and what came of it, under the request's id; admins read it,
 * filtered and paged; no credential is ever in it; and a change that cannot be recorded is not made.
 */
describe('audit log', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const repository = `${registryHost}/e2e-audit/${randomUUID().slice(0, 8)}`;
  let database: TestDatabase;
  let service: ServiceProcess;

  /** Every request id this test sent, and whether it should have left an entry. */
  const sent = new Map<string, 'entry' | 'none'>();
  const requestId = (step: string) => `audit-${step}-${randomBytes(4).toString('hex')}`;
  /** Credentials the table must never hold. */
  const credentials: string[] = [TEST_ADMIN_KEY];

  /** Sends a request under a new request id, remembered with whether it should leave an entry. */
  const call = async (step: string, path: string, init: RequestInit = {}, leaves: 'entry' | 'none' = 'entry') => {
    const id = requestId(step);
    const response = await service.fetch(path, { ...init, headers: { ...(init.headers as Record<string, string>), 'x-request-id': id } });
    sent.set(id, leaves);
    return { id, response, body: response.headers.get('content-type')?.includes('json') ? ((await response.json()) as Record<string, any>) : undefined };
  };
  const json = (method: string, body: unknown, headers: Record<string, string> = {}) => ({
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const audit = async (query: string, key?: string): Promise<{ status: number; page: AuditPage; link: string | null }> => {
    const response = await service.fetch(`/v1/audit${query}`, key ? { headers: bearer(key) } : {});
    return { status: response.status, page: (await response.json()) as AuditPage, link: response.headers.get('link') };
  };
  /** Every entry, newest first, read through the API page by page. */
  const allEntries = async (query = '', limit = 200): Promise<AuditEvent[]> => {
    const entries: AuditEvent[] = [];
    let next: string | null = `/v1/audit?limit=${limit}${query ? `&${query}` : ''}`;
    while (next) {
      const response = await service.fetch(next);
      expect(response.status).toBe(200);
      const page = (await response.json()) as AuditPage;
      entries.push(...page.items);
      next = page.next;
    }
    return entries;
  };
  const entriesOf = async (id: string) => (await allEntries()).filter((entry) => entry.requestId === id);

  let writer: { id: string; key: string };
  let reader: { id: string; key: string };
  let startedAt: string;

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start(testServiceEnv(database.url, 'audit', { WEBHOOK_ALLOWLIST: '127.0.0.1' }));
    startedAt = new Date().toISOString();
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
  });

  const admin = { kind: 'api-key', principal: 'api-key:bootstrap', keyId: 'bootstrap', name: 'bootstrap-admin' };

  describe('each change and each refusal leaves one entry', () => {
    let publishJob: string;

    it('a publish', async () => {
      const { id, response, body } = await call('publish', `/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
        method: 'POST',
        headers: { 'content-type': 'application/wasm' },
        body: component,
      });
      expect(response.status).toBe(202);
      publishJob = body!.id;
      expect((await finishedJob(service, publishJob)).state).toBe('succeeded');
      const [entry, ...others] = await entriesOf(id);
      expect(others).toEqual([]);
      expect(entry).toEqual({
        id: expect.any(String),
        time: expect.any(String),
        completedAt: expect.any(String),
        requestId: id,
        method: 'POST',
        route: '/v1/artifacts',
        path: '/v1/artifacts',
        action: 'Artifacts_upload',
        caller: admin,
        credential: null,
        target: { repository, reference: repository, id: publishJob },
        outcome: 'succeeded',
        status: 202,
        code: null,
        sourceAddress: '127.0.0.1',
      });
      expect(Date.parse(entry!.completedAt!)).toBeGreaterThanOrEqual(Date.parse(entry!.time));
    });

    it('a form upload: the repository, read from the form while the file streams', async () => {
      const formRepository = `${repository}/form`;
      const form = new FormData();
      form.append('repository', formRepository);
      form.append('file', new Blob([component], { type: 'application/wasm' }), 'hello.wasm');
      const { id, response, body } = await call('form', '/v1/artifacts', { method: 'POST', body: form });
      expect(response.status).toBe(202);
      expect((await finishedJob(service, body!.id)).state).toBe('succeeded');
      expect(await entriesOf(id)).toMatchObject([
        { action: 'Artifacts_upload', caller: admin, target: { repository: formRepository, reference: formRepository, id: body!.id }, outcome: 'succeeded', status: 202 },
      ]);
    });

    it('a sign', async () => {
      const { id, response, body } = await call('sign', '/v1/signatures', json('POST', { reference: `${repository}:v1` }));
      expect(response.status).toBe(202);
      const [entry, ...others] = await entriesOf(id);
      expect(others).toEqual([]);
      expect(entry).toMatchObject({
        action: 'Signatures_sign',
        route: '/v1/signatures',
        caller: admin,
        target: { repository, reference: `${repository}:v1`, id: body!.id },
        outcome: 'succeeded',
        status: 202,
        code: null,
      });
    });

    it('a verification answered at once: one entry, written with its answer', async () => {
      const policy = { certificateIdentity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY!, certificateOidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL! };
      const { id, response, body } = await call('verify', '/v1/verifications', json('POST', { reference: `${repository}:v1`, policy }));
      expect(response.status).toBe(200);
      expect(body).toMatchObject({ verified: true });
      const [entry, ...others] = await entriesOf(id);
      expect(others).toEqual([]);
      expect(entry).toMatchObject({ action: 'ArtifactVerification_verify', route: '/v1/verifications', caller: admin, outcome: 'succeeded', status: 200, code: null });
    });

    it('two API key creations', async () => {
      const created = async (step: string, name: string, scopes: string[], repositories: string[]) => {
        const { id, response, body } = await call(step, '/v1/api-keys', json('POST', { name, scopes, repositories }));
        expect(response.status).toBe(201);
        credentials.push(body!.key);
        const [entry, ...others] = await entriesOf(id);
        expect(others).toEqual([]);
        expect(entry).toMatchObject({
          action: 'ApiKeys_create',
          route: '/v1/api-keys',
          caller: admin,
          target: { id: body!.id, repository: null },
          outcome: 'succeeded',
          status: 201,
        });
        return { id: body!.id as string, key: body!.key as string };
      };
      writer = await created('key-writer', 'audit-writer', ['artifacts:write', 'signatures:write'], [`${registryHost}/e2e-audit-allowed/**`]);
      reader = await created('key-reader', 'audit-reader', ['records:read'], ['**']);
    });

    it('a webhook creation, its secret kept out', async () => {
      const { id, response, body } = await call('webhook', '/v1/webhooks', json('POST', { url: 'http://127.0.0.1:9/hooks/audit', events: ['job.failed'] }));
      expect(response.status).toBe(201);
      credentials.push(body!.secret);
      const [entry, ...others] = await entriesOf(id);
      expect(others).toEqual([]);
      expect(entry).toMatchObject({ action: 'Webhooks_create', route: '/v1/webhooks', caller: admin, target: { id: body!.id }, outcome: 'succeeded', status: 201 });
    });

    it('a 401 without a credential', async () => {
      const { id, response, body } = await call('no-credential', '/v1/signatures', json('POST', { reference: `${repository}:v1` }, { authorization: '' }));
      expect(response.status).toBe(401);
      expect(body).toMatchObject({ code: 'CREDENTIAL_MISSING', requestId: id });
      const [entry, ...others] = await entriesOf(id);
      expect(others).toEqual([]);
      expect(entry).toMatchObject({
        action: 'Signatures_sign',
        caller: null,
        credential: { kind: 'none' },
        // Refused as soon as the headers were in: the body (and the reference in it) was never read.
        target: { repository: null, reference: null },
        outcome: 'refused',
        status: 401,
        code: 'CREDENTIAL_MISSING',
        sourceAddress: '127.0.0.1',
      });
    });

    it('a 401 with a key this service never issued: its hint, not the key', async () => {
      const unknownKey = `wsk_${randomBytes(32).toString('base64url')}`;
      credentials.push(unknownKey);
      const { id, response } = await call('bad-key', '/v1/signatures?limit=5', { headers: bearer(unknownKey) });
      expect(response.status).toBe(401);
      const [entry, ...others] = await entriesOf(id);
      expect(others).toEqual([]);
      expect(entry).toMatchObject({
        method: 'GET',
        route: '/v1/signatures',
        path: '/v1/signatures',
        action: 'SignatureRecords_list',
        caller: null,
        credential: { kind: 'api-key', keyHint: unknownKey.slice(0, 8) },
        outcome: 'refused',
        status: 401,
        code: 'API_KEY_INVALID',
      });
    });

    it('a 401 with a token nobody trusts: its claimed issuer, not the token', async () => {
      const claims = Buffer.from(JSON.stringify({ iss: 'https://issuer.example', sub: 'someone', aud: 'wasm-signer' })).toString('base64url');
      const token = `eyJhbGciOiJFUzI1NiJ9.${claims}.${randomBytes(64).toString('base64url')}`;
      credentials.push(token, token.split('.')[2]!);
      const { id, response } = await call('token', '/v1/jobs/00000000-0000-4000-8000-000000000000', { headers: bearer(token) });
      expect(response.status).toBe(401);
      const [entry] = await entriesOf(id);
      expect(entry).toMatchObject({ action: 'Jobs_get', credential: { kind: 'oidc-token', unverifiedIssuer: 'https://issuer.example' }, outcome: 'refused', status: 401 });
    });

    it('a 403: a key without the scope', async () => {
      const { id, response } = await call('no-scope', '/v1/signatures', json('POST', { reference: `${repository}:v1` }, bearer(reader.key)));
      expect(response.status).toBe(403);
      const [entry, ...others] = await entriesOf(id);
      expect(others).toEqual([]);
      expect(entry).toMatchObject({
        action: 'Signatures_sign',
        caller: { kind: 'api-key', principal: `api-key:${reader.id}`, keyId: reader.id, name: 'audit-reader' },
        credential: null,
        target: { repository: null, reference: null },
        outcome: 'refused',
        status: 403,
        code: 'SCOPE_MISSING',
      });
    });

    it('a 403: a key outside its repository patterns', async () => {
      const { id, response } = await call('not-allowed', `/v1/artifacts?repository=${encodeURIComponent(repository)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/wasm', ...bearer(writer.key) },
        body: component,
      });
      expect(response.status).toBe(403);
      const [entry, ...others] = await entriesOf(id);
      expect(others).toEqual([]);
      expect(entry).toMatchObject({
        action: 'Artifacts_upload',
        caller: { principal: `api-key:${writer.id}`, name: 'audit-writer' },
        target: { repository, reference: repository },
        outcome: 'refused',
        status: 403,
        code: 'REPOSITORY_NOT_ALLOWED',
      });
    });

    it('a failure: a body that is not JSON, read only once its caller was authenticated', async () => {
      const { id, response } = await call('malformed', '/v1/signatures', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reference":' });
      expect(response.status).toBe(400);
      const [entry, ...others] = await entriesOf(id);
      expect(others).toEqual([]);
      expect(entry).toMatchObject({ action: 'Signatures_sign', caller: admin, credential: null, outcome: 'failed', status: 400, code: 'MALFORMED_JSON' });
    });

    it('a revocation, and the revoked key refused afterwards', async () => {
      const { id, response } = await call('revoke', `/v1/api-keys/${writer.id}`, { method: 'DELETE' });
      expect(response.status).toBe(200);
      const [entry, ...others] = await entriesOf(id);
      expect(others).toEqual([]);
      expect(entry).toMatchObject({
        method: 'DELETE',
        route: '/v1/api-keys/:id',
        path: `/v1/api-keys/${writer.id}`,
        action: 'ApiKeys_revoke',
        caller: admin,
        target: { id: writer.id },
        outcome: 'succeeded',
        status: 200,
      });

      const refused = await call('revoked', '/v1/signatures', json('POST', { reference: `${repository}:v1` }, bearer(writer.key)));
      expect(refused.response.status).toBe(401);
      expect((await entriesOf(refused.id))[0]).toMatchObject({ credential: { kind: 'api-key', keyHint: writer.key.slice(0, 8) }, code: 'API_KEY_REVOKED', outcome: 'refused' });
    });

    it('a failed change: revoking a key that does not exist', async () => {
      const { id, response } = await call('revoke-unknown', '/v1/api-keys/00000000-0000-4000-8000-000000000000', { method: 'DELETE' });
      expect(response.status).toBe(404);
      expect(await entriesOf(id)).toMatchObject([
        { action: 'ApiKeys_revoke', target: { id: '00000000-0000-4000-8000-000000000000' }, outcome: 'failed', status: 404, code: 'API_KEY_NOT_FOUND' },
      ]);
    });

    it('no entry for reads that were allowed, nor for paths no route matches', async () => {
      const read = await call('read', `/v1/jobs/${publishJob}`, {}, 'none');
      expect(read.response.status).toBe(200);
      const unmatched = await call('unmatched', '/v1/no-such-route', json('POST', {}, { authorization: '' }), 'none');
      expect(unmatched.response.status).toBe(404);
      const health = await call('health', '/health/live', {}, 'none');
      expect(health.response.status).toBe(200);
      for (const id of [read.id, unmatched.id, health.id]) expect(await entriesOf(id)).toEqual([]);
    });

    it('non-admin keys are refused the audit log, and that refusal is an entry too', async () => {
      const id = requestId('audit-refused');
      const response = await service.fetch('/v1/audit', { headers: { ...bearer(reader.key), 'x-request-id': id } });
      sent.set(id, 'entry');
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ code: 'SCOPE_MISSING', requiredScope: 'admin' });
      expect(await entriesOf(id)).toMatchObject([
        { method: 'GET', route: '/v1/audit', action: 'AuditLog_list', caller: { name: 'audit-reader' }, outcome: 'refused', status: 403 },
      ]);
    });
  });

  describe('the log as a whole', () => {
    it('holds exactly one entry per audited request sent, each complete, each action an operationId', async () => {
      const entries = await allEntries();
      for (const [id, expected] of sent) {
        const found = entries.filter((entry) => entry.requestId === id);
        expect({ id, count: found.length }).toEqual({ id, count: expected === 'none' ? 0 : 1 });
      }
      for (const entry of entries) {
        expect({ id: entry.requestId, operationId: operationIds.has(entry.action) }).toEqual({ id: entry.requestId, operationId: true });
        expect(entry.outcome).not.toBe('pending');
        expect(entry.completedAt).not.toBeNull();
      }
    });

    it('holds none of the credentials used, nor the webhook secret, anywhere in the table', async () => {
      const [{ text }] = await database.query<{ text: string }>("select coalesce(string_agg(e::text, E'\\n'), '') as text from audit_events e");
      expect(text).toContain('audit-reader');
      expect(credentials.length).toBeGreaterThan(5);
      for (const credential of credentials) expect(text).not.toContain(credential);
    });

    it('filters by caller, action, route, outcome, status and target', async () => {
      const byCaller = await allEntries(`caller=${encodeURIComponent(`api-key:${reader.id}`)}`);
      expect(byCaller.map((entry) => [entry.action, entry.status])).toEqual([
        ['AuditLog_list', 403],
        ['Signatures_sign', 403],
      ]);
      expect((await allEntries('action=ApiKeys_create')).map((entry) => entry.target.id)).toEqual([reader.id, writer.id]);
      expect((await allEntries(`route=${encodeURIComponent('DELETE /v1/api-keys/:id')}`)).map((entry) => entry.status)).toEqual([404, 200]);
      expect((await allEntries(`route=${encodeURIComponent('/v1/api-keys/:id')}`)).length).toBe(2);
      const refused = await allEntries('outcome=refused');
      expect(refused.length).toBe(7);
      expect(refused.every((entry) => [401, 403].includes(entry.status!))).toBe(true);
      expect((await allEntries('status=401')).map((entry) => entry.code)).toEqual(['API_KEY_REVOKED', 'TOKEN_ISSUER_NOT_TRUSTED', 'API_KEY_INVALID', 'CREDENTIAL_MISSING']);
      expect((await allEntries(`target=${writer.id}`)).map((entry) => entry.action)).toEqual(['ApiKeys_revoke', 'ApiKeys_create']);
      const inRepository = await allEntries(`target=${encodeURIComponent(repository)}`);
      // Requests refused before their body was read (401, and 403 for a missing scope) name no repository.
      expect(inRepository.map((entry) => [entry.action, entry.status])).toEqual([
        ['Artifacts_upload', 403],
        ['ArtifactVerification_verify', 200],
        ['Signatures_sign', 202],
        ['Artifacts_upload', 202],
      ]);
      expect(await allEntries(`caller=api-key:bootstrap&outcome=failed&status=404`)).toMatchObject([{ action: 'ApiKeys_revoke' }]);
    });

    it('filters by time: since (inclusive) and until (exclusive), to the microsecond', async () => {
      const entries = await allEntries();
      const middle = entries[Math.floor(entries.length / 2)]!;
      const [{ exact }] = await database.query<{ exact: string }>(
        `select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as exact from audit_events where id = $1`,
        [middle.id],
      );
      const since = await allEntries(`since=${exact}`);
      const until = await allEntries(`until=${exact}`);
      expect(since.at(-1)!.id).toBe(middle.id);
      expect(since.length + until.length).toBe(entries.length);
      expect(until.some((entry) => entry.id === middle.id)).toBe(false);
      expect(await allEntries(`since=${encodeURIComponent(startedAt)}`)).toHaveLength(entries.length);
      expect(await allEntries(`until=${encodeURIComponent(startedAt)}`)).toHaveLength(0);
    });

    it('pages newest first with a cursor and a Link header, the pages together the whole log', async () => {
      const entries = await allEntries();
      const paged = await allEntries('', 2);
      expect(paged.map((entry) => entry.id)).toEqual(entries.map((entry) => entry.id));
      const times = entries.map((entry) => Date.parse(entry.time));
      expect([...times].sort((a, b) => b - a)).toEqual(times);
      const first = await audit('?limit=2&outcome=refused');
      expect(first.page.items).toHaveLength(2);
      expect(first.link).toBe(`<${first.page.next}>; rel="next"`);
      expect(first.page.next).toBe(`/v1/audit?outcome=refused&limit=2&cursor=${first.page.nextCursor}`);
    });

    it('refuses filters it cannot take, with the field named', async () => {
      const refusals: [string, string][] = [
        ['?cursor=not-a-cursor', 'cursor'],
        ['?since=yesterday', 'since'],
        ['?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z', 'since'],
        [`?caller=${'a'.repeat(1101)}`, 'caller'],
        [`?target=${'a'.repeat(301)}`, 'target'],
        ['?route=FETCH%20/v1/artifacts', 'route'],
        ['?action=Drop%20table;', 'action'],
        ['?outcome=maybe', 'outcome'],
        ['?status=99', 'status'],
        ['?limit=201', 'limit'],
        ['?unknown=1', 'unknown'],
      ];
      for (const [query, field] of refusals) {
        const { status, page } = await audit(query);
        expect({ query, status, code: (page as unknown as { code: string }).code }).toEqual({ query, status: 400, code: 'VALIDATION_FAILED' });
        expect((page as unknown as { detail: string }).detail).toContain(field);
      }
    });
  });

  describe('when the audit log cannot be written', () => {
    afterEach(async () => {
      await database.query('alter table if exists audit_events_away rename to audit_events');
      await database.query('drop trigger if exists audit_events_refuse_update on audit_events');
    });

    it('refuses a change before making it (503 AUDIT_LOG_UNAVAILABLE), and still answers refusals', async () => {
      const [{ count: keysBefore }] = await database.query<{ count: string }>('select count(*) from api_keys');
      await database.query('alter table audit_events rename to audit_events_away');
      const refused = await service.fetch('/v1/api-keys', json('POST', { name: 'never-made', scopes: ['records:read'], repositories: ['**'] }));
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ code: 'AUDIT_LOG_UNAVAILABLE' });
      const [{ count: keysAfter }] = await database.query<{ count: string }>('select count(*) from api_keys');
      expect(keysAfter).toBe(keysBefore);
      const unauthenticated = await service.fetch('/v1/signatures', { headers: { authorization: '' } });
      expect(unauthenticated.status).toBe(401);
      expect(service.logs).toContain('could not write the audit entry of a request: refused it');
    });

    it('answers a verification (it changes nothing but its own record) and logs the entry it could not write; refuses one that would queue a job', async () => {
      const policy = { certificateIdentity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY!, certificateOidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL! };
      await database.query('alter table audit_events rename to audit_events_away');
      const answered = await service.fetch('/v1/verifications', json('POST', { reference: `${repository}:v1`, policy }));
      expect(answered.status).toBe(200);
      expect(await answered.json()).toMatchObject({ verified: true });
      const queued = await service.fetch('/v1/verifications', json('POST', { reference: `${repository}:v1`, policy, async: true }));
      expect(queued.status).toBe(503);
      expect(await queued.json()).toMatchObject({ code: 'AUDIT_LOG_UNAVAILABLE' });
      expect(service.logs).toContain('could not write the audit entry of an answered or refused request');
    });

    it('answers a change whose outcome cannot be recorded; its entry stays pending', async () => {
      await database.query(
        `create or replace function audit_events_refuse_update() returns trigger language plpgsql as $$ begin raise exception 'audit outcome refused by test'; end $$`,
      );
      await database.query('create trigger audit_events_refuse_update before update on audit_events for each row execute function audit_events_refuse_update()');
      const id = requestId('pending');
      const response = await service.fetch('/v1/webhooks', json('POST', { url: 'http://127.0.0.1:9/hooks/pending', events: ['job.failed'] }, { 'x-request-id': id }));
      expect(response.status).toBe(201);
      credentials.push(((await response.json()) as { secret: string }).secret);
      expect(await entriesOf(id)).toMatchObject([{ action: 'Webhooks_create', caller: admin, outcome: 'pending', status: null, completedAt: null }]);
      expect(service.logs).toContain('could not record the outcome of a request in its audit entry');
    });
  });
});
