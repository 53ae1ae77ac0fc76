import type { JobRow, JobType, StepName } from '../database/database.types';

/** What one step of one kind of job does. Must be idempotent: it may run again after a crash. */
export interface StepHandler {
  readonly jobType: JobType;
  readonly step: StepName;
  /** Returns a patch merged into the job's result. Throws StepError to fail (permanently or not). */
  run(job: JobRow, context: StepContext): Promise<Record<string, unknown>>;
}

export interface StepContext {
  /** 1 on the first attempt. */
  attempt: number;
  /** INSTANCE_ID of the worker running the step. */
  worker: string;
  /** Aborted when the worker shuts down and can no longer wait for the step. */
  signal: AbortSignal;
}
