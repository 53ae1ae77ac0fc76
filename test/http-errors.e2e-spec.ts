import { randomUUID } from 'node:crypto';
import { ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { testEnvironment } from './support/test-environment';

/** Bad input gets a 4xx application/problem+json with a stable code, and creates nothing. */
describe('errors are problem documents', () => {
  const env = testEnvironment();
  let database: TestDatabase;
  let service: ServiceProcess;

  beforeAll(async () => {
    // A database of its own (not the embedded one) so the test can count what a request created.
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start({ REDIS_URL: env.redisUrl, DATABASE_URL: database.url, QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}` });
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
    await database?.drop();
  });

  const jobCount = async () => Number((await database.query<{ n: string }>('select count(*) as n from jobs'))[0]!.n);

  const postProbe = (body: string, headers: Record<string, string> = {}) =>
    service.fetch('/v1/probes', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it.each([
    ['an unknown job', () => service.fetch(`/v1/jobs/${randomUUID()}`), 404, 'JOB_NOT_FOUND'],
    ['a malformed job ID', () => service.fetch('/v1/jobs/not-a-uuid'), 404, 'JOB_NOT_FOUND'],
    ['an unknown route', () => service.fetch('/v1/nothing-here'), 404, 'NOT_FOUND'],
    ['malformed JSON', () => postProbe('{"holdMs":'), 400, 'MALFORMED_JSON'],
    ['a value out of range', () => postProbe('{"holdMs":-1}'), 400, 'VALIDATION_FAILED'],
    ['an unknown field', () => postProbe('{"holdMs":1,"colour":"red"}'), 400, 'VALIDATION_FAILED'],
    ['an invalid Idempotency-Key', () => postProbe('{}', { 'idempotency-key': 'x'.repeat(300) }), 400, 'INVALID_IDEMPOTENCY_KEY'],
    ['an unsupported media type', () => service.fetch('/v1/probes', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ])('%s', async (_case, request, status, code) => {
    const before = await jobCount();
    const response = await request();
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await response.json()) as Record<string, unknown>;
    expect(problem).toMatchObject({ status, code, type: expect.stringContaining('/problems/'), title: expect.any(String) });
    expect(problem.requestId).toBe(response.headers.get('x-request-id'));
    expect(await jobCount()).toBe(before);
  });

  it('counts what a valid request creates (so "creates nothing" above can fail)', async () => {
    const before = await jobCount();
    expect((await postProbe('{}')).status).toBe(202);
    expect(await jobCount()).toBe(before + 1);
  });

  it('keeps a sane X-Request-Id from the caller', async () => {
    const response = await service.fetch('/v1/jobs/unknown', { headers: { 'x-request-id': 'build-4711.step-3' } });
    expect(response.headers.get('x-request-id')).toBe('build-4711.step-3');
    expect(((await response.json()) as { requestId: string }).requestId).toBe('build-4711.step-3');
  });

  it('returns the same job for the same Idempotency-Key, and refuses the key for another request', async () => {
    const key = randomUUID();
    const before = await jobCount();
    const first = await postProbe('{}', { 'idempotency-key': key });
    const again = await postProbe('{}', { 'idempotency-key': key });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    const firstJob = (await first.json()) as { id: string };
    expect(((await again.json()) as { id: string }).id).toBe(firstJob.id);

    const other = await postProbe('{"holdMs":5}', { 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect(await other.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', jobId: firstJob.id });
    expect(await jobCount()).toBe(before + 1);
  });
});
