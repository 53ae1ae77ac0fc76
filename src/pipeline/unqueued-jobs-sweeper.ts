import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { NamedLocks } from '../database/named-lock';
import { MetricsService } from '../metrics/metrics.service';
import { JobsRepository } from './jobs.repository';
import { PipelineQueues } from './pipeline-queues.service';

/** Jobs enqueued per database round trip; a sweep goes on until none is left. */
const BATCH = 100;
const LOCK_NAME = 'pipeline:unqueued-jobs-sweep';

/**
 * The outbox relay of the job records: every ENQUEUE_SWEEP_INTERVAL_MS, the jobs recorded more than
 * ENQUEUE_SWEEP_GRACE_MS ago that are still queued and were never noted as enqueued (their producer
 * died, or lost Redis, between recording and enqueueing) get their pipeline enqueued, and are noted.
 *
 * Runs in the worker role: where there is no worker, a queued job would not run anyway. With several
 * replicas, one sweeps at a time (a database advisory lock, skipped when taken); and even two sweeps at
 * once would be harmless, since queue job IDs derive from the job (re-adding a pipeline still in Redis
 * is a no-op) and a job still `queued` has never had a step started, so none of its queue jobs has
 * finished and been trimmed.
 */
@Injectable()
export class UnqueuedJobsSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('enqueue-sweeper');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobsRepository,
    private readonly queues: PipelineQueues,
    private readonly locks: NamedLocks,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.tick(), this.config.queues.enqueueSweepIntervalMs);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One sweep at a time per process; a failed sweep (Redis or the database down) is retried next tick. */
  private tick(): void {
    if (this.running) return;
    this.running = this.sweep()
      .catch((error: unknown) => this.logger.warn({ err: error }, 'sweep for unqueued jobs failed; retrying at the next interval'))
      .finally(() => (this.running = undefined));
  }

  /**
   * Enqueues every job recorded but not enqueued past the grace period; resolves with how many it
   * enqueued, or undefined when another replica holds the sweep.
   */
  sweep(): Promise<number | undefined> {
    return this.locks.tryWithLock(LOCK_NAME, async () => {
      let enqueued = 0;
      for (;;) {
        const batch = await this.jobs.unqueued(this.config.queues.enqueueSweepGraceMs, BATCH);
        for (const job of batch) {
          await this.queues.enqueuePipeline(
            job.id,
            job.steps.map((step) => step.name),
          );
          await this.jobs.markEnqueued(job.id);
          enqueued += 1;
          this.metrics.jobsReenqueued.inc({ type: job.type });
          this.logger.warn({ jobId: job.id, type: job.type, recordedAt: job.created_at }, 'job was recorded but never enqueued: enqueued it');
        }
        if (batch.length < BATCH) return enqueued;
      }
    });
  }
}
