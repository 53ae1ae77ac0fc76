import { randomUUID } from 'node:crypto';
import { ServiceProcess, tempDir } from './support/service-process';
import { testEnvironment } from './support/test-environment';

/** Bad input gets a 4xx application/problem+json with a stable code, and creates nothing. */
describe('errors are problem documents', () => {
  let service: ServiceProcess;

  beforeAll(async () => {
    service = await ServiceProcess.start({ REDIS_URL: testEnvironment().redisUrl, DATA_DIR: tempDir('errors'), QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}` });
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
  });

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
    const response = await request();
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await response.json()) as Record<string, unknown>;
    expect(problem).toMatchObject({ status, code, type: expect.stringContaining('/problems/'), title: expect.any(String) });
    expect(problem.requestId).toBe(response.headers.get('x-request-id'));
  });

  it('keeps a sane X-Request-Id from the caller', async () => {
    const response = await service.fetch('/v1/jobs/unknown', { headers: { 'x-request-id': 'build-4711.step-3' } });
    expect(response.headers.get('x-request-id')).toBe('build-4711.step-3');
    expect(((await response.json()) as { requestId: string }).requestId).toBe('build-4711.step-3');
  });

  it('returns the same job for the same Idempotency-Key, and refuses the key for another request', async () => {
    const key = randomUUID();
    const first = await postProbe('{}', { 'idempotency-key': key });
    const again = await postProbe('{}', { 'idempotency-key': key });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    const firstJob = (await first.json()) as { id: string };
    expect(((await again.json()) as { id: string }).id).toBe(firstJob.id);

    const other = await postProbe('{"holdMs":5}', { 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect(await other.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', jobId: firstJob.id });
  });
});
