import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { workerRedisOptions } from '../../src/common/redis-connection';
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
  const reenqueued = async (reason?: string) =>
    (await metrics.jobsReenqueued.get()).values.filter((v) => reason === undefined || v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0);
  /** Recorded and enqueued, as the API does it. */
  const enqueuedJob = async () => {
    const { job } = await jobs.create({ type: 'probe', input: { holdMs: 0 } });
    await queues.enqueuePipeline(job.id, STEPS);
    await jobs.markEnqueued(job.id);
    return job.id;
  };
  /** Redis loses a job's queue entries: the root of its flow (its last step) is removed with the steps before it. */
  const loseEntries = async (id: string) => {
    const last = STEPS[STEPS.length - 1]!;
    await (await queues.queues.get(last)!.getJob(stepJobId(id, last)))!.remove();
  };
  const lastChangedMinuteAgo = (ids: string[]) => it_.scratch.query(`update jobs set updated_at = now() - interval '1 minute' where id = any($1::uuid[])`, [ids]);

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

  it('a job whose queue entries vanished is enqueued again from its current step, once; one whose entries are there is left alone', async () => {
    const [fresh, partWay, intact] = [await enqueuedJob(), await enqueuedJob(), await enqueuedJob()];
    // partWay's first step ran: the worker recorded it (BullMQ then completed its entry).
    await jobs.stepStarted(partWay, STEPS[0]!, 'worker-1', 1);
    await jobs.stepSucceeded(partWay, STEPS[0]!, {});
    await loseEntries(fresh);
    await loseEntries(partWay);
    expect((await inRedis([fresh, partWay])).present).toEqual([]);
    const before = await reenqueued('queue_entry_lost');

    // Changed within the grace period: a worker may be between steps; left for a later sweep.
    expect(await sweepers[0]!.sweep()).toBe(0);
    expect((await inRedis([fresh, partWay])).present).toEqual([]);

    await lastChangedMinuteAgo([fresh, partWay, intact]);
    const intactBefore = await inRedis([intact]);
    const counts = await Promise.all(sweepers.map((s) => s.sweep()));
    expect(counts.reduce<number>((sum, n) => sum + (n ?? 0), 0)).toBe(2);
    expect(await reenqueued('queue_entry_lost')).toBe(before + 2);
    expect((await inRedis([fresh])).present).toEqual(STEPS.map((step) => stepJobId(fresh, step)));
    expect((await inRedis([partWay])).present).toEqual(STEPS.slice(1).map((step) => stepJobId(partWay, step)));
    expect((await inRedis([intact])).present).toEqual(intactBefore.present);
    // The first of partWay's remaining steps waits to run; the ones after it wait for it.
    expect(await queues.stepState(partWay, STEPS[1]!)).toBe('waiting');
    expect(await queues.stepState(partWay, STEPS[2]!)).toBe('waiting-children');
    expect([await sweepers[0]!.sweep(), await sweepers[1]!.sweep()]).toEqual([0, 0]);
  });

  it('a finished job without queue entries is left alone', async () => {
    const id = await enqueuedJob();
    for (const step of STEPS) {
      await jobs.stepStarted(id, step, 'worker-1', 1);
      await jobs.stepSucceeded(id, step, {});
    }
    expect((await jobs.find(id))!.state).toBe('succeeded');
    await loseEntries(id);
    await lastChangedMinuteAgo([id]);
    expect(await sweepers[0]!.sweep()).toBe(0);
    expect((await inRedis([id])).present).toEqual([]);
  });
  it('a job that lost only its current step (the steps after it still wait for it) runs that step again, and the next one follows', async () => {
    const id = await enqueuedJob();
    const [current, next] = [STEPS[0]!, STEPS[1]!];
    // Redis lost the current step's entry alone (an AOF that lost its last second): its hash and its place in line.
    const queue = queues.queues.get(current)!;
    const redis = (await queue.client) as unknown as Redis;
    const key = `${it_.config.queues.prefix}:${current}:${stepJobId(id, current)}`;
    await redis.del(key);
    await redis.lrem(`${it_.config.queues.prefix}:${current}:wait`, 0, stepJobId(id, current));
    expect(await queues.stepState(id, current)).toBe('unknown');
    expect(await queues.stepState(id, next)).toBe('waiting-children');
    await lastChangedMinuteAgo([id]);

    expect(await sweepers[0]!.sweep()).toBe(1);
    expect(await queues.stepState(id, current)).toBe('waiting');
    // A worker runs the step again: the step after it is released, as if nothing had been lost.
    const worker = new Worker(current, async (job) => (job.id === stepJobId(id, current) ? 'done' : undefined), {
      connection: workerRedisOptions(it_.config.redis.url),
      prefix: it_.config.queues.prefix,
    });
    try {
      const deadline = Date.now() + 10_000;
      while ((await queues.stepState(id, next)) === 'waiting-children' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await queues.stepState(id, current)).toBe('completed');
      expect(await queues.stepState(id, next)).toBe('waiting');
    } finally {
      await worker.close();
    }
  });
  it('a job whose entries vanished while a worker still says it runs the step (a long build) is left to that worker', async () => {
    const id = await enqueuedJob();
    await jobs.stepStarted(id, STEPS[0]!, 'worker-1', 1);
    await loseEntries(id);
    await lastChangedMinuteAgo([id]);
    // The worker's heartbeat, within the grace period: the step is running, not lost.
    await jobs.stepHeartbeat(id);
    expect(await sweepers[0]!.sweep()).toBe(0);
    expect((await inRedis([id])).present).toEqual([]);

    // The worker died with the entry: its heartbeat stops, and the grace period passes.
    await it_.scratch.query(`update jobs set step_heartbeat_at = now() - interval '1 minute' where id = $1`, [id]);
    expect(await sweepers[0]!.sweep()).toBe(1);
    expect((await inRedis([id])).present).toEqual(STEPS.map((step) => stepJobId(id, step)));
  });
});
