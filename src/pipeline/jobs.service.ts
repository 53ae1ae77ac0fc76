import { Injectable, Logger } from '@nestjs/common';
import { JobSubmissionError } from './job-submission-error';
import type { JobRow } from '../database/database.types';
import { LifecycleState } from '../lifecycle/lifecycle-state';
import { MetricsService } from '../metrics/metrics.service';
import { JobsRepository, type NewJob } from './jobs.repository';
import type { CatalogueJobType } from './job-catalogue';
import { PipelineQueues } from './pipeline-queues.service';

/**
 * Accepts jobs: records them, then enqueues their pipeline. The record is the commitment; the queue
 * add is the fast path. A job recorded but not enqueued (the process died, or Redis failed, between the
 * two writes) is enqueued later by the UnqueuedJobsSweeper of the worker role.
 *
 * What the caller is told is what happens:
 * - enqueued: 202, the job runs;
 * - the enqueue failed and the record could be withdrawn: 503 QUEUE_UNAVAILABLE, the job never runs,
 *   and a retry with the same Idempotency-Key starts afresh;
 * - the enqueue failed and the record could not be withdrawn (the database failed too, or the sweeper
 *   enqueued it meanwhile): 202, because the sweeper will run it;
 * - the process died before answering: no answer; the job runs (sweeper), and a replay of the request
 *   with its Idempotency-Key returns it.
 */
@Injectable()
export class JobsService {
  private readonly logger = new Logger('jobs');

  constructor(
    private readonly jobs: JobsRepository,
    private readonly queues: PipelineQueues,
    private readonly lifecycle: LifecycleState,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Records and enqueues a job of a catalogue type, with the input the catalogue gives that type and its
   * steps in catalogue order. The request service has checked everything the caller sent (its callback
   * URL included) before calling this.
   */
  async submit<T extends CatalogueJobType>(job: NewJob<T>): Promise<{ job: JobRow; created: boolean }> {
    if (this.lifecycle.draining) throw new JobSubmissionError('SHUTTING_DOWN', 'the service is shutting down: retry against another instance');
    const { job: row, created } = await this.jobs.create(job);
    if (created) await this.enqueueNew(row);
    else await this.enqueueRecorded(row);
    if (created) this.metrics.jobsCreated.inc({ type: job.type });
    return { job: row, created };
  }

  /** A job just recorded: enqueued, or withdrawn with a 503 — or, when it cannot be withdrawn, left to the sweeper. */
  private async enqueueNew(row: JobRow): Promise<void> {
    try {
      await this.queues.enqueuePipeline(
        row.id,
        row.steps.map((step) => step.name),
      );
    } catch (error) {
      const withdrawn = await this.jobs.withdrawUnqueued(row.id).catch((withdrawError: unknown) => {
        this.logger.warn({ err: withdrawError, jobId: row.id }, 'could not withdraw a job that was not enqueued');
        return false;
      });
      if (withdrawn) {
        this.logger.warn({ err: error, jobId: row.id }, 'could not enqueue job; withdrawn');
        throw new JobSubmissionError('QUEUE_UNAVAILABLE', 'The job was not accepted; retry later (with the same Idempotency-Key)');
      }
      this.logger.warn({ err: error, jobId: row.id }, 'could not enqueue job; it stays recorded and the sweeper will enqueue it');
      return;
    }
    await this.noteEnqueued(row.id);
  }

  /**
   * A replayed job (same Idempotency-Key): enqueued again only when it was never noted as enqueued (its
   * first submission died between the two writes). A failure here is not the caller's concern: the job
   * is recorded and the sweeper enqueues it.
   */
  private async enqueueRecorded(row: JobRow): Promise<void> {
    if (row.state !== 'queued' || row.enqueued_at !== null) return;
    try {
      await this.queues.enqueuePipeline(
        row.id,
        row.steps.map((step) => step.name),
      );
    } catch (error) {
      this.logger.warn({ err: error, jobId: row.id }, 'could not enqueue a replayed job; the sweeper will');
      return;
    }
    await this.noteEnqueued(row.id);
  }

  /** Queue job IDs are derived from the job, so a note that fails only costs the sweeper a no-op re-add. */
  private async noteEnqueued(id: string): Promise<void> {
    await this.jobs.markEnqueued(id).catch((error: unknown) => this.logger.warn({ err: error, jobId: id }, 'could not note a job as enqueued'));
  }

  find(id: string): Promise<JobRow | undefined> {
    return this.jobs.find(id);
  }

  findByIdempotencyKey(key: string, caller?: string): Promise<JobRow | undefined> {
    return this.jobs.findByIdempotencyKey(key, caller);
  }

  /**
   * The job a replayed Idempotency-Key created, when the request is the same one (same fingerprint);
   * undefined for a new key; a 422 IDEMPOTENCY_KEY_REUSED when the key was used for another request.
   */
  async replayOf(key: string, caller: string | undefined, fingerprint: string): Promise<JobRow | undefined> {
    const existing = await this.jobs.findByIdempotencyKey(key, caller);
    if (existing && existing.request_hash !== fingerprint)
      throw new JobSubmissionError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request', existing.id);
    if (existing) await this.enqueueRecorded(existing);
    return existing;
  }
}
