import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { NamedLocks } from '../database/named-lock';
import { MetricsService } from '../metrics/metrics.service';
import type { JobRow, StepName } from '../database/database.types';
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
 * It also finds jobs whose queue entries vanished: Redis restarted without persistence, or its AOF lost
 * its last second. A job not finished, unchanged for ENQUEUE_SWEEP_GRACE_MS, whose current step (the
 * first not succeeded or skipped) has no entry in its queue, gets the rest of its pipeline enqueued
 * from that step. A worker records a step's end in the job before BullMQ completes (and may remove)
 * the step's entry, so an entry found missing is checked against the job read again: if the job
 * changed meanwhile (a worker went on to the next step), it is left for the next sweep. A worker running
 * a step writes the job's heartbeat every third of the grace period, so a long step (a build) whose
 * entry was lost is not taken for abandoned while it runs. Steps are
 * idempotent (a step that already succeeded is not run again; records are one per job and kind), so a
 * step run again after its worker died with the entry does no harm twice.
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
   * Enqueues every job recorded but not enqueued past the grace period, and re-enqueues the jobs whose
   * queue entries vanished; resolves with how many it enqueued, or undefined when another replica holds
   * the sweep.
   */
  sweep(): Promise<number | undefined> {
    return this.locks.tryWithLock(LOCK_NAME, async () => (await this.enqueueUnqueued()) + (await this.enqueueLost()));
  }

  private async enqueueUnqueued(): Promise<number> {
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
        this.metrics.jobsReenqueued.inc({ type: job.type, reason: 'never_enqueued' });
        this.logger.warn({ jobId: job.id, type: job.type, recordedAt: job.created_at }, 'job was recorded but never enqueued: enqueued it');
      }
      if (batch.length < BATCH) return enqueued;
    }
  }

  /** Re-enqueues, from their current step, the unfinished jobs whose queue entry for that step is gone. */
  private async enqueueLost(): Promise<number> {
    let enqueued = 0;
    let after: { updatedAt: Date; id: string } | undefined;
    for (;;) {
      const batch = await this.jobs.unfinishedUnchanged(this.config.queues.enqueueSweepGraceMs, BATCH, after);
      for (const job of batch) if (await this.enqueueIfLost(job)) enqueued += 1;
      if (batch.length < BATCH) return enqueued;
      const last = batch[batch.length - 1]!;
      after = { updatedAt: last.updated_at, id: last.id };
    }
  }

  private async enqueueIfLost(job: Pick<JobRow, 'id' | 'type' | 'steps' | 'updated_at' | 'step_heartbeat_at'>): Promise<boolean> {
    const remaining = remainingSteps(job.steps);
    if (remaining.length === 0) return false;
    const state = await this.queues.stepState(job.id, remaining[0]!);
    if (state !== 'unknown') return false;
    // The entry may be gone because the step has just finished and been trimmed: then the job has changed.
    const now = await this.jobs.find(job.id);
    // So may a worker still running the step (the step's heartbeat moved on).
    if (
      !now ||
      now.updated_at.getTime() !== job.updated_at.getTime() ||
      now.step_heartbeat_at?.getTime() !== job.step_heartbeat_at?.getTime() ||
      now.state === 'succeeded' ||
      now.state === 'failed'
    )
      return false;
    await this.queues.enqueuePipeline(job.id, remaining);
    this.metrics.jobsReenqueued.inc({ type: job.type, reason: 'queue_entry_lost' });
    this.logger.warn(
      { jobId: job.id, type: job.type, step: remaining[0], lastChangedAt: job.updated_at },
      'job had no queue entry for its current step (Redis lost it): enqueued it from that step',
    );
    return true;
  }
}

/** The steps of a job from its current one (the first not succeeded or skipped) to its last. */
function remainingSteps(steps: JobRow['steps']): StepName[] {
  const current = steps.findIndex((step) => step.state !== 'succeeded' && step.state !== 'skipped');
  return current === -1 ? [] : steps.slice(current).map((step) => step.name);
}
