import { randomUUID } from 'node:crypto';
import { JobSubmissionError } from '../../src/pipeline/job-submission-error';
import { requestFingerprint } from '../../src/common/request-fingerprint';
import type { ProbeJobInput } from '../../src/pipeline/job-catalogue';
import { JobsRepository } from '../../src/pipeline/jobs.repository';
import { type Integration, startIntegration } from './support/integration-env';

/** JobsRepository against real PostgreSQL, with the project's migrations (their unique index included). */
describe('JobsRepository (PostgreSQL)', () => {
  let it_: Integration;
  let jobs: JobsRepository;
  const probe = (holdMs = 0): ProbeJobInput => ({ holdMs });
  const rowsWithKey = async (key: string) => (await it_.scratch.query<{ id: string }>('select id from jobs where idempotency_key = $1', [key])).map((r) => r.id);

  beforeAll(async () => {
    it_ = await startIntegration();
    jobs = new JobsRepository(it_.database);
  });

  afterAll(async () => {
    await it_?.stop();
  });

  it('creates a job with the catalogue steps, pending, and its input as given', async () => {
    const { job, created } = await jobs.create({ type: 'probe', input: probe(7) });
    expect(created).toBe(true);
    expect(job.state).toBe('queued');
    expect(job.input).toEqual({ holdMs: 7 });
    expect(job.steps.map((s) => [s.name, s.state, s.attempts])).toEqual([
      ['push', 'pending', 0],
      ['sign', 'pending', 0],
      ['attest', 'pending', 0],
      ['verify', 'pending', 0],
      ['notify', 'pending', 0],
    ]);
    expect(job.request_hash).toBeNull(); // no key, nothing to compare a replay with
  });

  it('stores the request fingerprint: the one given, else one over type, input and callbackUrl', async () => {
    const given = await jobs.create({ type: 'probe', input: probe(), idempotencyKey: randomUUID(), requestHash: 'fingerprint-of-the-request' });
    expect(given.job.request_hash).toBe('fingerprint-of-the-request');
    const derived = await jobs.create({ type: 'probe', input: probe(3), idempotencyKey: randomUUID(), callbackUrl: 'https://example.com/cb' });
    expect(derived.job.request_hash).toBe(requestFingerprint('probe', { input: { holdMs: 3 }, callbackUrl: 'https://example.com/cb' }));
    const [stored] = await it_.scratch.query<{ request_hash: string; callback_url: string }>('select request_hash, callback_url from jobs where id = $1', [derived.job.id]);
    expect(stored).toEqual({ request_hash: derived.job.request_hash, callback_url: 'https://example.com/cb' });
  });

  it('returns the same row for the same idempotency key and caller; another caller gets its own', async () => {
    const key = randomUUID();
    const first = await jobs.create({ type: 'probe', input: probe(), idempotencyKey: key, caller: 'alice' });
    const again = await jobs.create({ type: 'probe', input: probe(), idempotencyKey: key, caller: 'alice' });
    expect([first.created, again.created]).toEqual([true, false]);
    expect(again.job.id).toBe(first.job.id);
    const other = await jobs.create({ type: 'probe', input: probe(), idempotencyKey: key, caller: 'bob' });
    expect(other.created).toBe(true);
    expect(other.job.id).not.toBe(first.job.id);
    expect((await rowsWithKey(key)).sort()).toEqual([first.job.id, other.job.id].sort());
  });

  it('refuses the same key for a different request (IDEMPOTENCY_KEY_REUSED, naming the job; 422 at the edge) and creates nothing', async () => {
    const key = randomUUID();
    const first = await jobs.create({ type: 'probe', input: probe(1), idempotencyKey: key });
    const reused = jobs.create({ type: 'probe', input: probe(2), idempotencyKey: key });
    await expect(reused).rejects.toBeInstanceOf(JobSubmissionError);
    await expect(reused).rejects.toMatchObject({ name: 'JobSubmissionError', code: 'IDEMPOTENCY_KEY_REUSED', jobId: first.job.id });
    expect(await rowsWithKey(key)).toEqual([first.job.id]);
  });

  it('makes one row of concurrent creates with the same key, and tells exactly one of them it created it', async () => {
    const key = randomUUID();
    const results = await Promise.all(Array.from({ length: 8 }, () => jobs.create({ type: 'probe', input: probe(), idempotencyKey: key })));
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await rowsWithKey(key)).toEqual([results[0]!.job.id]);
  });

  it('records step transitions: attempts, worker, retried failure, success with the result merged, the job done after its last step', async () => {
    const { job } = await jobs.create({ type: 'probe', input: probe() });
    const running = await jobs.stepStarted(job.id, 'push', 'worker-a', 1);
    expect(running.state).toBe('running');
    expect(running.started_at).toBeInstanceOf(Date);
    expect(running.steps[0]).toMatchObject({ name: 'push', state: 'running', attempts: 1, worker: 'worker-a', error: null });

    const retried = await jobs.stepFailed(job.id, 'push', { code: 'REGISTRY_UNAVAILABLE', message: 'down' }, false);
    expect(retried.state).toBe('running');
    expect(retried.error).toBeNull();
    expect(retried.steps[0]).toMatchObject({ state: 'running', error: { code: 'REGISTRY_UNAVAILABLE', message: 'down' }, finishedAt: null });

    await jobs.stepStarted(job.id, 'push', 'worker-b', 2);
    const pushed = await jobs.stepSucceeded(job.id, 'push', { steps: { push: 'done' } });
    expect(pushed.steps[0]).toMatchObject({ state: 'succeeded', attempts: 2, worker: 'worker-b', error: null });
    // The step started when its first attempt did.
    expect(pushed.steps[0]!.startedAt).toBe(running.steps[0]!.startedAt);
    expect(pushed.steps[0]!.finishedAt).toEqual(expect.any(String));
    expect(pushed.state).toBe('running');
    expect(pushed.result).toEqual({ steps: { push: 'done' } });

    let last = pushed;
    for (const step of ['sign', 'attest', 'verify', 'notify'] as const) {
      await jobs.stepStarted(job.id, step, 'worker-a', 1);
      last = await jobs.stepSucceeded(job.id, step, { [step]: true });
    }
    expect(last.state).toBe('succeeded');
    expect(last.finished_at).toBeInstanceOf(Date);
    expect(last.result).toEqual({ steps: { push: 'done' }, sign: true, attest: true, verify: true, notify: true });
    // A finished job is never changed again (a late attempt of a stalled worker).
    const late = await jobs.stepFailed(job.id, 'notify', { code: 'LATE', message: 'too late' }, true);
    expect([late.state, late.error]).toEqual(['succeeded', null]);
  });

  it('fails the job on a final step failure, with the error and its step recorded', async () => {
    const { job } = await jobs.create({ type: 'probe', input: probe() });
    await jobs.stepStarted(job.id, 'push', 'worker-a', 1);
    const failed = await jobs.stepFailed(job.id, 'push', { code: 'WASM_BLOB_MISSING', message: 'gone' }, true);
    expect(failed.state).toBe('failed');
    expect(failed.error).toEqual({ code: 'WASM_BLOB_MISSING', message: 'gone', step: 'push' });
    expect(failed.steps.map((s) => s.state)).toEqual(['failed', 'pending', 'pending', 'pending', 'pending']);
    expect(failed.finished_at).toBeInstanceOf(Date);
  });

  it('withdrawUnqueued removes a queued job never enqueued (its key is free again), and leaves an enqueued or a started one', async () => {
    const key = randomUUID();
    const queued = await jobs.create({ type: 'probe', input: probe(), idempotencyKey: key });
    expect(await jobs.withdrawUnqueued(queued.job.id)).toBe(true);
    expect(await jobs.find(queued.job.id)).toBeUndefined();
    const again = await jobs.create({ type: 'probe', input: probe(), idempotencyKey: key });
    expect(again.created).toBe(true);
    expect(again.job.id).not.toBe(queued.job.id);

    // The sweeper enqueued it meanwhile: it stands, and will run.
    await jobs.markEnqueued(again.job.id);
    expect(await jobs.withdrawUnqueued(again.job.id)).toBe(false);
    expect((await jobs.find(again.job.id))?.state).toBe('queued');

    const started = await jobs.create({ type: 'probe', input: probe() });
    await jobs.stepStarted(started.job.id, 'push', 'worker-a', 1);
    expect(await jobs.withdrawUnqueued(started.job.id)).toBe(false);
    expect((await jobs.find(started.job.id))?.state).toBe('running');
  });

  it('unqueued lists queued jobs never enqueued once older than the grace period, oldest first; markEnqueued takes them off', async () => {
    const ids = (list: { id: string }[]) => list.map((j) => j.id);
    const older = await jobs.create({ type: 'probe', input: probe() });
    const newer = await jobs.create({ type: 'probe', input: probe() });
    const enqueued = await jobs.create({ type: 'probe', input: probe() });
    await jobs.markEnqueued(enqueued.job.id);
    const started = await jobs.create({ type: 'probe', input: probe() });
    await jobs.stepStarted(started.job.id, 'push', 'worker-a', 1);
    // Recorded a minute ago, as the database's clock has it.
    await it_.scratch.query(`update jobs set created_at = now() - interval '60 seconds' where id = $1`, [older.job.id]);

    const pastGrace = ids(await jobs.unqueued(30_000, 1000));
    expect(pastGrace).toContain(older.job.id);
    expect(pastGrace).not.toContain(newer.job.id);

    await new Promise((r) => setTimeout(r, 20));
    const all = ids(await jobs.unqueued(0, 1000));
    expect(all.filter((id) => [older.job.id, newer.job.id, enqueued.job.id, started.job.id].includes(id))).toEqual([older.job.id, newer.job.id]);
    const [listed] = await jobs.unqueued(0, 1);
    expect(listed!.steps.map((s) => s.name)).toEqual(['push', 'sign', 'attest', 'verify', 'notify']);

    await jobs.markEnqueued(older.job.id);
    expect(ids(await jobs.unqueued(0, 1000))).not.toContain(older.job.id);
    const [row] = await it_.scratch.query<{ enqueued_at: Date }>('select enqueued_at from jobs where id = $1', [older.job.id]);
    expect(row!.enqueued_at).toBeInstanceOf(Date);
  });

  it('find answers undefined for an unknown or malformed id', async () => {
    expect(await jobs.find(randomUUID())).toBeUndefined();
    expect(await jobs.find('not-a-uuid')).toBeUndefined();
  });
});
