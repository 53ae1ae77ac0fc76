import { NamedLocks } from '../../src/database/named-lock';
import { ReadinessChecks } from '../../src/health/readiness-checks';
import { MetricsService } from '../../src/metrics/metrics.service';
import { JobsRepository } from '../../src/pipeline/jobs.repository';
import { PipelineQueues } from '../../src/pipeline/pipeline-queues.service';
import { JOB_STEPS } from '../../src/pipeline/job-catalogue';
import { stepJobId } from '../../src/pipeline/step-queues';
import { UnqueuedJobsSweeper } from '../../src/pipeline/unqueued-jobs-sweeper';
import { type Integration, startIntegration } from './support/integration-env';

/**
 * The sweeper against real PostgreSQL and Redis, no worker consuming: jobs recorded but never enqueued
 * get their pipeline into the queues once, however many sweeps run, and only past the grace period.
 */
describe('UnqueuedJobsSweeper (jobs in PostgreSQL, queues in Redis)', () => {
  let it_: Integration;
  let jobs: JobsRepository;
  let queues: PipelineQueues;
  let metrics: MetricsService;
  const sweepers: UnqueuedJobsSweeper[] = [];
  const STEPS = JOB_STEPS.probe;

  beforeAll(async () => {
    it_ = await startIntegration({ ENQUEUE_SWEEP_GRACE_MS: '1000' });
    jobs = new JobsRepository(it_.database);
    queues = new PipelineQueues(it_.config, new ReadinessChecks(), new MetricsService());
    metrics = new MetricsService();
    // Two replicas: each its own lock handle (the advisory lock is per database session).
    for (let i = 0; i < 2; i++) sweepers.push(new UnqueuedJobsSweeper(it_.config, jobs, queues, new NamedLocks(it_.database), metrics));
  });

  afterAll(async () => {
    await queues?.onApplicationShutdown();
    await it_?.stop();
  });

  /** Every queue job of the pipelines of `ids`, as Redis has them, and how many jobs each step queue holds. */
  const inRedis = async (ids: string[]) => {
    const present: string[] = [];
    for (const id of ids) for (const step of STEPS) if (await queues.queues.get(step)!.getJob(stepJobId(id, step))) present.push(stepJobId(id, step));
    const perQueue: Record<string, number> = {};
    for (const step of STEPS) {
      const counts = await queues.queues.get(step)!.getJobCounts();
      perQueue[step] = Object.values(counts).reduce((a, b) => a + b, 0);
    }
    return { present, perQueue };
  };
  const reenqueued = async () => (await metrics.jobsReenqueued.get()).values.reduce((sum, v) => sum + v.value, 0);

  it('enqueues each job recorded past the grace period once, though two sweepers run at the same time', async () => {
    const recorded = await Promise.all(Array.from({ length: 5 }, () => jobs.create({ type: 'probe', input: { holdMs: 0 } })));
    const ids = recorded.map((r) => r.job.id);
    // Inside the grace period: the API that recorded them may still be enqueueing them.
    expect(await Promise.all(sweepers.map((s) => s.sweep()))).toEqual(expect.arrayContaining([0]));
    expect((await inRedis(ids)).present).toEqual([]);

    await new Promise((r) => setTimeout(r, 1_100));
    const counts = await Promise.all(sweepers.map((s) => s.sweep()));
    // One sweeper took the lock and enqueued all five; the other skipped (undefined) or found none (0).
    expect(counts.reduce<number>((sum, n) => sum + (n ?? 0), 0)).toBe(5);
    expect(await reenqueued()).toBe(5);

    const { present, perQueue } = await inRedis(ids);
    expect(present).toHaveLength(ids.length * STEPS.length);
    for (const step of STEPS) expect(perQueue[step]).toBe(5);
    for (const id of ids) expect((await jobs.find(id))!.enqueued_at).toBeInstanceOf(Date);
    expect([await sweepers[0]!.sweep(), await sweepers[1]!.sweep()]).toEqual([0, 0]);
  });

  it('re-enqueueing a pipeline already in Redis (the note that it was enqueued lost) adds nothing', async () => {
    const { job } = await jobs.create({ type: 'probe', input: { holdMs: 0 } });
    await it_.scratch.query(`update jobs set created_at = now() - interval '1 minute' where id = $1`, [job.id]);
    expect(await sweepers[0]!.sweep()).toBe(1);
    const before = await inRedis([job.id]);

    // As if the sweeper (or the API) died after the queue add and before noting it.
    await it_.scratch.query('update jobs set enqueued_at = null where id = $1', [job.id]);
    expect(await sweepers[1]!.sweep()).toBe(1);
    expect(await inRedis([job.id])).toEqual(before);
    expect(before.present).toHaveLength(STEPS.length);
  });
});
