import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { withLogContext } from '../logging/log-context';
import { MetricsService } from '../metrics/metrics.service';
import { databaseOutage } from '../database/database-outage';
import type { JobRow, StepName } from '../database/database.types';
import { asCatalogueJob } from './job-catalogue';
import { JobChanges } from './job-changes';
import { JobObservers } from './job-observers';
import { JobsRepository } from './jobs.repository';
import { workerRedisOptions } from '../common/redis-connection';
import { StepError, asStepError, retryDelayMs } from './step-error';
import { StepHandlerRegistry } from './step-handler.registry';
import { STEP_QUEUES, type StepJobData } from './step-queues';

/**
 * The step queues a worker consumes: builds only where BUILD_WORKER says so (`only`: a build node that
 * never signs), every other step elsewhere.
 */
export function consumedQueues(buildWorker: AppConfig['builds']['worker']): StepName[] {
  if (buildWorker === 'only') return ['build'];
  return STEP_QUEUES.filter((queue) => buildWorker === 'also' || queue !== 'build');
}

/**
 * The consumer side: one BullMQ worker per step queue. Each attempt is recorded on the job; permanent
 * errors fail the job at once (UnrecoverableError), transient ones retry with backoff. After a step ends
 * (succeeded, or failed for good) the job observers are told. On shutdown the workers stop taking jobs
 * and wait, within SHUTDOWN_TIMEOUT_MS, for the active ones.
 *
 * Workers start once every module has registered its step handlers, and not at all when a step of the
 * job catalogue has no handler: the start fails naming the missing ones.
 */
@Injectable()
export class PipelineWorkers implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('workers');
  private readonly workers: Worker<StepJobData>[] = [];
  private readonly shutdown = new AbortController();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobsRepository,
    private readonly handlers: StepHandlerRegistry,
    private readonly metrics: MetricsService,
    private readonly observers: JobObservers,
    private readonly changes: JobChanges,
  ) {}

  /** After every onModuleInit: the step handlers are registered by then. */
  onApplicationBootstrap(): void {
    this.handlers.assertComplete();
    const queues = consumedQueues(this.config.builds.worker);
    for (const queue of queues) {
      const worker = new Worker<StepJobData>(queue, (job, token) => withLogContext({ jobId: job.data.jobId, step: job.data.step }, () => this.processOrPostpone(job, token)), {
        connection: workerRedisOptions(this.config.redis.url),
        prefix: this.config.queues.prefix,
        // A build holds a core or two for minutes: one at a time per worker.
        concurrency: queue === 'build' ? 1 : this.config.queues.workerConcurrency,
        // A worker that dies (SIGKILL, lost node) stops renewing its locks: its jobs count as stalled
        // and another worker takes them over after about one lock duration.
        lockDuration: this.config.queues.lockDurationMs,
        stalledInterval: this.config.queues.lockDurationMs,
        settings: { backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) => retryDelayMs(attemptsMade, error, Math.random, this.config.queues.stepRetryBaseMs) },
      });
      worker.on('error', (error) => this.logger.warn({ err: error, queue }, 'worker error'));
      this.workers.push(worker);
    }
    this.logger.log({ queues, concurrency: this.config.queues.workerConcurrency }, 'workers started');
  }

  /**
   * A step that cannot go on because the database is out (unreachable, or out of room) is put back in its
   * queue for later without using one of its attempts: an outage of any length makes it wait, not fail.
   * Its record keeps the attempt as running (the write that would say more could not be made), and the
   * next run, with the same attempt number, takes it up from what the record says.
   */
  private async processOrPostpone(bullJob: Job<StepJobData>, token?: string): Promise<void> {
    try {
      await this.process(bullJob);
    } catch (error) {
      const outage = databaseOutage(error);
      if (!outage || !token) throw error;
      // Two to four times STEP_RETRY_BASE_MS, each time: the outage's end is unknown, so no growing backoff.
      const delayMs = retryDelayMs(3, undefined, Math.random, this.config.queues.stepRetryBaseMs);
      this.metrics.stepsPostponed.inc({ step: bullJob.data.step, reason: outage.code.toLowerCase() });
      this.logger.warn({ code: outage.code, err: error, delayMs }, 'database unavailable: step postponed, no attempt used');
      await bullJob.moveToDelayed(Date.now() + delayMs, token);
      throw new DelayedError();
    }
  }

  /**
   * Runs a step while writing its heartbeat to the job every third of ENQUEUE_SWEEP_GRACE_MS: the sweeper
   * re-enqueues a job whose queue entry Redis lost only when nobody has said, for the whole grace period,
   * that they are running it — a long step (a build) whose entry was lost is not run twice at once. A
   * heartbeat that cannot be written (the database is out) is skipped; the next one tries again.
   */
  private async whileSayingRunning<T>(jobId: string, run: () => Promise<T>): Promise<T> {
    const everyMs = Math.max(1_000, Math.floor(this.config.queues.enqueueSweepGraceMs / 3));
    const timer = setInterval(() => {
      this.jobs.stepHeartbeat(jobId).catch((error: unknown) => this.logger.debug({ err: error }, 'step heartbeat not written'));
    }, everyMs);
    try {
      return await run();
    } finally {
      clearInterval(timer);
    }
  }

  private async process(bullJob: Job<StepJobData>): Promise<void> {
    const { jobId, step } = bullJob.data;
    const attempt = bullJob.attemptsMade + 1;
    const maxAttempts = bullJob.opts.attempts ?? 1;
    const started = performance.now();
    const job = await this.jobs.find(jobId);
    if (!job) throw new UnrecoverableError(`JOB_NOT_FOUND: job ${jobId} has no record`);
    const recorded = job.steps.find((s) => s.name === step);
    // A step that already succeeded (the worker died after recording it) or a finished job: nothing to
    // do but emit its events again, in case that is what was interrupted (deliveries are idempotent).
    if (job.state === 'succeeded' || job.state === 'failed' || recorded?.state === 'succeeded') {
      await this.observers.afterStep(job, step, recorded?.state === 'succeeded' ? 'succeeded' : 'failed');
      return;
    }

    const typed = asCatalogueJob(job);
    const handler = typed && this.handlers.find(typed.type, step);
    let finished: JobRow;
    try {
      if (!typed || !handler) throw StepError.permanent('STEP_NOT_SUPPORTED', `no ${step} step for ${job.type} jobs in this worker`);
      await this.jobs.stepStarted(jobId, step, this.config.instanceId, attempt);
      void this.changes.announce(jobId);
      const result = await this.whileSayingRunning(jobId, () => handler.run(typed, { attempt, worker: this.config.instanceId, signal: this.shutdown.signal }));
      finished = await this.jobs.stepSucceeded(jobId, step, { ...result });
      void this.changes.announce(jobId);
      if (finished.state === 'succeeded') this.metrics.jobsFinished.inc({ type: job.type, outcome: 'succeeded' });
      const seconds = (performance.now() - started) / 1000;
      this.metrics.stepDuration.observe({ step, outcome: 'succeeded' }, seconds);
      this.logger.log({ attempt, durationMs: Math.round(seconds * 1000), jobState: finished.state }, 'step succeeded');
    } catch (error) {
      // The database is out: nothing is recorded (nothing could be); the step is postponed (above).
      if (databaseOutage(error)) throw error;
      const failure = asStepError(error);
      const final = !failure.transient || attempt >= maxAttempts;
      this.metrics.stepDuration.observe({ step, outcome: final ? 'failed' : 'retried' }, (performance.now() - started) / 1000);
      // jobId and step come from the log context every line of a step runs in.
      this.logger.warn({ attempt, code: failure.code, err: error, final }, final ? 'step failed' : 'step attempt failed, will retry');
      const failed = await this.jobs.stepFailed(jobId, step, { code: failure.code, message: failure.message }, final);
      void this.changes.announce(jobId);
      if (final && failed.state === 'failed') this.metrics.jobsFinished.inc({ type: job.type, outcome: 'failed' });
      if (final) await this.observers.afterStep(failed, step, 'failed');
      if (!failure.transient) throw new UnrecoverableError(`${failure.code}: ${failure.message}`);
      throw failure;
    }
    // Outside the try: a failing observer must not count as a failed step. The retry finds the step
    // recorded as succeeded and calls the observers again.
    await this.observers.afterStep(finished, step, 'succeeded');
  }

  async onModuleDestroy(): Promise<void> {
    const closing = Promise.all(this.workers.map((worker) => worker.close()));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      closing.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.config.shutdownTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      // Steps still running are abandoned; BullMQ hands them to another worker once their lock expires.
      this.logger.warn({ timeoutMs: this.config.shutdownTimeoutMs }, 'active jobs did not finish in time; leaving them to be retried');
      this.shutdown.abort();
      await Promise.allSettled(this.workers.map((worker) => worker.close(true)));
    } else {
      this.logger.log('workers drained');
    }
  }
}
