import { Injectable, Logger } from '@nestjs/common';
import { JobSubmissionError } from './job-submission-error';
import type { JobRow } from '../database/database.types';
import { LifecycleState } from '../lifecycle/lifecycle-state';
import { MetricsService } from '../metrics/metrics.service';
import { JobsRepository, type NewJob } from './jobs.repository';
import type { CatalogueJobType } from './job-catalogue';
import { PipelineQueues } from './pipeline-queues.service';

/** Accepts jobs: records them, then enqueues their pipeline; never leaves a recorded job unqueued. */
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
    await this.enqueue(row, created);
    if (created) this.metrics.jobsCreated.inc({ type: job.type });
    return { job: row, created };
  }

  /**
   * Enqueues on every call, replays included: job IDs in Redis are derived from the job, so this is a
   * no-op when the pipeline is already queued, and it re-queues a job whose first enqueue was lost.
   */
  private async enqueue(row: JobRow, created: boolean): Promise<void> {
    try {
      if (row.state === 'queued')
        await this.queues.enqueuePipeline(
          row.id,
          row.steps.map((step) => step.name),
        );
    } catch (error) {
      if (created) await this.jobs.deleteUnstarted(row.id).catch(() => undefined);
      this.logger.warn({ err: error, jobId: row.id }, 'could not enqueue job');
      throw new JobSubmissionError('QUEUE_UNAVAILABLE', 'The job was not accepted; retry later (with the same Idempotency-Key)');
    }
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
    if (existing) await this.enqueue(existing, false);
    return existing;
  }
}
