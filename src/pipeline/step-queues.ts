import type { StepName } from '../database/database.types';
import { catalogueSteps } from './job-catalogue';

/** Every step name, in the order steps run in a pipeline. */
const STEP_ORDER = ['build', 'push', 'sign', 'attest', 'verify', 'notify'] as const satisfies readonly StepName[];

/**
 * One BullMQ queue per pipeline step, so each step scales and retries on its own (and `build` runs only
 * on workers started with BUILD_WORKER): the steps of the catalogue's job types.
 */
export const STEP_QUEUES: readonly StepName[] = STEP_ORDER.filter((step) => catalogueSteps().some((entry) => entry.step === step));

/** BullMQ job ID of one step of one pipeline job; stable, so re-adding a flow never duplicates work. */
export const stepJobId = (jobId: string, step: StepName): string => `${jobId}.${step}`;

/** Payload of every step job in Redis. Only identifiers: job data is stored in clear text. */
export interface StepJobData {
  jobId: string;
  step: StepName;
}
