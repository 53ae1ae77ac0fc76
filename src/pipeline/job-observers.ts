import { Injectable } from '@nestjs/common';
import type { JobRow, StepName, VerificationRow } from '../database/database.types';

/** How a step ended: succeeded, or failed for good (attempts that will be retried are not reported). */
export type StepOutcome = 'succeeded' | 'failed';

/**
 * Something that reacts to a step's end (webhooks, for one). Called after the step is recorded, with the
 * job as recorded; it may be called again for the same step (a retry after a crash, or after an
 * observer failed), so it must be idempotent.
 */
export interface JobObserver {
  afterStep(job: JobRow, step: StepName, outcome: StepOutcome): Promise<void>;
  /**
   * A verification answered at once (no job) was recorded; `view` is the record as the API shows it.
   * Verify steps of jobs are reported through afterStep instead.
   */
  afterVerification?(verification: VerificationRow, view: Record<string, unknown>): Promise<void>;
}

/**
 * Where capabilities subscribe to the pipeline's step ends, so the engine calls them without knowing
 * them. Observers run one after the other, in registration order; the first that fails stops the
 * others and fails the queue job, which the worker then retries (see PipelineWorkers).
 */
@Injectable()
export class JobObservers {
  private readonly observers: JobObserver[] = [];

  register(observer: JobObserver): void {
    if (this.observers.includes(observer)) throw new Error('this observer is already registered');
    this.observers.push(observer);
  }

  async afterStep(job: JobRow, step: StepName, outcome: StepOutcome): Promise<void> {
    for (const observer of this.observers) await observer.afterStep(job, step, outcome);
  }

  async afterVerification(verification: VerificationRow, view: Record<string, unknown>): Promise<void> {
    for (const observer of this.observers) await observer.afterVerification?.(verification, view);
  }
}
