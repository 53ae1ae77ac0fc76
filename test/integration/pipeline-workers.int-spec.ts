import { setTimeout as sleep } from 'node:timers/promises';
import type { JobRow, JobStep, StepName } from '../../src/database/database.types';
import { LifecycleState } from '../../src/lifecycle/lifecycle-state';
import { MetricsService } from '../../src/metrics/metrics.service';
import { type CatalogueJob, catalogueSteps } from '../../src/pipeline/job-catalogue';
import { JobChanges } from '../../src/pipeline/job-changes';
import { JobObservers, type StepOutcome } from '../../src/pipeline/job-observers';
import { JobsRepository } from '../../src/pipeline/jobs.repository';
import { JobsService } from '../../src/pipeline/jobs.service';
import { PipelineQueues } from '../../src/pipeline/pipeline-queues.service';
import { PipelineWorkers } from '../../src/pipeline/pipeline-workers.service';
import { StepError } from '../../src/pipeline/step-error';
import type { RegisteredStepHandler, StepContext } from '../../src/pipeline/step-handler';
import { StepHandlerRegistry } from '../../src/pipeline/step-handler.registry';
import { stepJobId } from '../../src/pipeline/step-queues';
import { type Integration, eventually, startIntegration } from './support/integration-env';
import { ReadinessChecks } from '../../src/health/readiness-checks';

/** What a fake step does on one attempt: return a result, or throw. */
type Script = (attempt: number, job: CatalogueJob) => Promise<object>;

/**
 * The worker loop for real: PipelineWorkers consuming BullMQ queues in Redis, jobs recorded in
 * PostgreSQL by JobsRepository, submitted through JobsService and PipelineQueues. The step handlers
 * are fakes registered for the `probe` job type, scripted per job; every other catalogue step has a
 * handler that fails (the start-up check wants one for each).
 */
describe('PipelineWorkers (BullMQ in Redis, jobs in PostgreSQL)', () => {
  let it_: Integration;
  let jobs: JobsRepository;
  let queues: PipelineQueues;
  let service: JobsService;
  let workers: PipelineWorkers;
  let changes: JobChanges;
  let metrics: MetricsService;
  /** wasm_signer_jobs_finished_total of probe jobs with `outcome`, as a scrape shows it. */
  const finishedCount = async (outcome: string) => (await metrics.jobsFinished.get()).values.find((v) => v.labels.type === 'probe' && v.labels.outcome === outcome)?.value ?? 0;
  // Keyed by the probe's `holdMs` (unused by the fakes): set before the job is submitted, so no worker races it.
  const scripts = new Map<number, Partial<Record<StepName, Script>>>();
  const runs: { jobId: string; step: StepName; attempt: number; recorded: JobStep }[] = [];
  const told: { jobId: string; step: StepName; outcome: StepOutcome; jobState: JobRow['state'] }[] = [];

  const runsOf = (jobId: string) => runs.filter((r) => r.jobId === jobId).map((r) => [r.step, r.attempt]);
  const toldOf = (jobId: string) => told.filter((t) => t.jobId === jobId).map((t) => [t.step, t.outcome]);
  const finished = (jobId: string) =>
    eventually(
      () => jobs.find(jobId),
      (job): job is JobRow => job?.state === 'succeeded' || job?.state === 'failed',
      30_000,
      `job ${jobId} finished`,
    );
  const toldTimes = (jobId: string, count: number) =>
    eventually(
      async () => toldOf(jobId),
      (list) => list.length >= count,
      30_000,
      `${count} observer calls for ${jobId}`,
    );

  beforeAll(async () => {
    it_ = await startIntegration({ STEP_MAX_ATTEMPTS: '4', STEP_RETRY_BASE_MS: '20', WORKER_CONCURRENCY: '4' });
    jobs = new JobsRepository(it_.database);
    queues = new PipelineQueues(it_.config, new ReadinessChecks(), new MetricsService());
    metrics = new MetricsService();
    service = new JobsService(jobs, queues, new LifecycleState(), metrics);

    const handlers = new StepHandlerRegistry();
    for (const { jobType, step } of catalogueSteps()) {
      const fake: RegisteredStepHandler = {
        jobType,
        step,
        run: async (job: CatalogueJob, context: StepContext) => {
          if (jobType !== 'probe') throw StepError.permanent('NOT_IN_THIS_TEST', `${jobType}/${step} has no fake`);
          const recorded = (await jobs.find(job.id))!.steps.find((s) => s.name === step)!;
          runs.push({ jobId: job.id, step, attempt: context.attempt, recorded });
          const script = scripts.get((job.input as { holdMs: number }).holdMs)?.[step];
          if (script) return script(context.attempt, job);
          const previous = (job.result as { steps?: object } | null)?.steps ?? {};
          return { steps: { ...previous, [step]: { worker: context.worker, pid: process.pid, at: `attempt ${context.attempt}` } } };
        },
      };
      // One fake serves every (job type, step) pair; the typed overload wants the pair known statically.
      handlers.register(fake as never);
    }
    const observers = new JobObservers();
    observers.register({ afterStep: async (job, step, outcome) => void told.push({ jobId: job.id, step, outcome, jobState: job.state }) });

    changes = new JobChanges(it_.config);
    workers = new PipelineWorkers(it_.config, jobs, handlers, metrics, observers, changes);
    workers.onApplicationBootstrap();
  });

  afterAll(async () => {
    await workers?.onModuleDestroy();
    await changes?.onApplicationShutdown();
    await queues?.onApplicationShutdown();
    await it_?.stop();
  });

  it('retries a step that fails transiently, records each attempt, then succeeds; the observers hear each step once', async () => {
    scripts.set(1, {
      push: async (attempt) => {
        if (attempt < 3) throw StepError.transient('REGISTRY_UNAVAILABLE', `registry answered 503 (attempt ${attempt})`);
        return { steps: { push: { worker: 'fake', pid: process.pid, at: 'third time lucky' } } };
      },
    });
    const succeededBefore = await finishedCount('succeeded');
    const { job } = await service.submit({ type: 'probe', input: { holdMs: 1 } });

    const done = await finished(job.id);
    await toldTimes(job.id, 5);
    expect(done.state).toBe('succeeded');
    // Counted once, when its last step finished it; the retried attempts are not job outcomes.
    expect(await finishedCount('succeeded')).toBe(succeededBefore + 1);
    expect(done.error).toBeNull();
    expect(runsOf(job.id)).toEqual([
      ['push', 1],
      ['push', 2],
      ['push', 3],
      ['sign', 1],
      ['attest', 1],
      ['verify', 1],
      ['notify', 1],
    ]);
    // What the third attempt found recorded: its own attempt number and the previous attempt's error.
    const third = runs.find((r) => r.jobId === job.id && r.step === 'push' && r.attempt === 3)!;
    expect(third.recorded).toMatchObject({ state: 'running', attempts: 3, worker: 'integration-worker' });
    const second = runs.find((r) => r.jobId === job.id && r.step === 'push' && r.attempt === 2)!;
    expect(second.recorded.attempts).toBe(2);
    expect(done.steps.map((s) => [s.name, s.state, s.attempts, s.error])).toEqual([
      ['push', 'succeeded', 3, null],
      ['sign', 'succeeded', 1, null],
      ['attest', 'succeeded', 1, null],
      ['verify', 'succeeded', 1, null],
      ['notify', 'succeeded', 1, null],
    ]);
    expect((done.result as { steps: Record<string, { at: string }> }).steps.push!.at).toBe('third time lucky');
    // Attempts that will be retried are not step outcomes: each step is told once, in order.
    expect(toldOf(job.id)).toEqual([
      ['push', 'succeeded'],
      ['sign', 'succeeded'],
      ['attest', 'succeeded'],
      ['verify', 'succeeded'],
      ['notify', 'succeeded'],
    ]);
    expect(told.filter((t) => t.jobId === job.id).map((t) => t.jobState)).toEqual(['running', 'running', 'running', 'running', 'succeeded']);
  });

  it('fails the job at once on a permanent error, with the error recorded, and runs no later step', async () => {
    scripts.set(2, { push: async () => Promise.reject(StepError.permanent('WASM_BLOB_MISSING', 'the uploaded .wasm is no longer there')) });
    const failedBefore = await finishedCount('failed');
    const { job } = await service.submit({ type: 'probe', input: { holdMs: 2 } });

    const done = await finished(job.id);
    await toldTimes(job.id, 1);
    expect(done.state).toBe('failed');
    expect(await finishedCount('failed')).toBe(failedBefore + 1);
    expect(done.error).toEqual({ code: 'WASM_BLOB_MISSING', message: 'the uploaded .wasm is no longer there', step: 'push' });
    expect(done.steps.map((s) => [s.name, s.state, s.attempts])).toEqual([
      ['push', 'failed', 1],
      ['sign', 'pending', 0],
      ['attest', 'pending', 0],
      ['verify', 'pending', 0],
      ['notify', 'pending', 0],
    ]);
    expect(done.steps[0]!.error).toEqual({ code: 'WASM_BLOB_MISSING', message: 'the uploaded .wasm is no longer there' });
    // The queue job failed for good after one attempt (no retry is scheduled), and the parent steps with it.
    const pushJob = await queues.queues.get('push')!.getJob(stepJobId(job.id, 'push'));
    expect([await pushJob!.getState(), pushJob!.attemptsMade]).toEqual(['failed', 1]);
    await eventually(
      async () => (await queues.queues.get('sign')!.getJob(stepJobId(job.id, 'sign')))?.getState(),
      (state) => state === 'failed',
      10_000,
      'sign step failed with its child',
    );
    // Well past the retry delay (20-40 ms here), nothing ran again and the observers heard one failure.
    await sleep(500);
    expect(runsOf(job.id)).toEqual([['push', 1]]);
    expect(toldOf(job.id)).toEqual([['push', 'failed']]);
  });

  it('fails the job when a transient error outlasts STEP_MAX_ATTEMPTS, with the last error', async () => {
    scripts.set(3, { sign: async (attempt) => Promise.reject(StepError.transient('FULCIO_UNAVAILABLE', `Fulcio answered 503 (attempt ${attempt})`)) });
    const { job } = await service.submit({ type: 'probe', input: { holdMs: 3 } });

    const done = await finished(job.id);
    await toldTimes(job.id, 2);
    expect(runsOf(job.id)).toEqual([
      ['push', 1],
      ['sign', 1],
      ['sign', 2],
      ['sign', 3],
      ['sign', 4],
    ]);
    expect(done.state).toBe('failed');
    expect(done.error).toEqual({ code: 'FULCIO_UNAVAILABLE', message: 'Fulcio answered 503 (attempt 4)', step: 'sign' });
    expect(done.steps.map((s) => [s.name, s.state, s.attempts])).toEqual([
      ['push', 'succeeded', 1],
      ['sign', 'failed', 4],
      ['attest', 'pending', 0],
      ['verify', 'pending', 0],
      ['notify', 'pending', 0],
    ]);
    await sleep(300);
    expect(toldOf(job.id)).toEqual([
      ['push', 'succeeded'],
      ['sign', 'failed'],
    ]);
  });

  it('does not run again a step already recorded as succeeded, tells the observers again, and goes on with the next', async () => {
    // As after a worker died between recording the step and finishing its queue job.
    const { job } = await jobs.create({ type: 'probe', input: { holdMs: 0 } });
    await jobs.stepStarted(job.id, 'push', 'a-worker-that-died', 1);
    await jobs.stepSucceeded(job.id, 'push', { steps: { push: { worker: 'a-worker-that-died', pid: 1, at: 'before the crash' } } });
    await queues.enqueuePipeline(job.id, ['push', 'sign', 'attest', 'verify', 'notify']);

    const done = await finished(job.id);
    await toldTimes(job.id, 5);
    expect(done.state).toBe('succeeded');
    expect(runsOf(job.id)).toEqual([
      ['sign', 1],
      ['attest', 1],
      ['verify', 1],
      ['notify', 1],
    ]);
    expect(done.steps[0]).toMatchObject({ name: 'push', state: 'succeeded', attempts: 1, worker: 'a-worker-that-died' });
    expect((done.result as { steps: Record<string, { at: string }> }).steps.push!.at).toBe('before the crash');
    expect(toldOf(job.id)).toEqual([
      ['push', 'succeeded'],
      ['sign', 'succeeded'],
      ['attest', 'succeeded'],
      ['verify', 'succeeded'],
      ['notify', 'succeeded'],
    ]);
  });

  it('submitting the same job again (same Idempotency-Key) does not run its steps twice', async () => {
    const request = { type: 'probe' as const, input: { holdMs: 0 }, idempotencyKey: `key-${Date.now()}` };
    const first = await service.submit(request);
    const done = await finished(first.job.id);
    await toldTimes(first.job.id, 5);
    const replay = await service.submit(request);
    expect([replay.created, replay.job.id, done.state]).toEqual([false, first.job.id, 'succeeded']);
    await sleep(500);
    expect(runsOf(first.job.id)).toEqual([
      ['push', 1],
      ['sign', 1],
      ['attest', 1],
      ['verify', 1],
      ['notify', 1],
    ]);
    expect(toldOf(first.job.id)).toHaveLength(5);
  });
});
