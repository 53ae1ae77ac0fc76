import type { StepName } from '../database/database.types';
import type { CatalogueJob, CatalogueJobType, JobStepOf, StepResultOf } from './job-catalogue';

/**
 * What one step of one kind of job does, typed by the job catalogue. Must be idempotent: it may run
 * again after a crash. `T` may be a union when one handler serves the same step of several job types.
 */
export interface StepHandler<T extends CatalogueJobType = CatalogueJobType, S extends JobStepOf<T> = JobStepOf<T>> {
  readonly jobType: T;
  readonly step: S;
  /** Returns the step's result, merged into the job's result. Throws a CodedError to fail (permanently or not). */
  run(job: CatalogueJob<T>, context: StepContext): Promise<StepResultOf<T, S>>;
}

/** A handler of any (job type, step), as the registry stores it. */
export interface RegisteredStepHandler {
  readonly jobType: CatalogueJobType;
  readonly step: StepName;
  run(job: CatalogueJob, context: StepContext): Promise<object>;
}

export interface StepContext {
  /** 1 on the first attempt. */
  attempt: number;
  /** INSTANCE_ID of the worker running the step. */
  worker: string;
  /** Aborted when the worker shuts down and can no longer wait for the step. */
  signal: AbortSignal;
}
