import type { StepName } from '../database/database.types';

/** One BullMQ queue per pipeline step, so each step scales and retries on its own. */
export const STEP_QUEUES: readonly StepName[] = ['build', 'push', 'sign', 'verify', 'notify'];

/** BullMQ job ID of one step of one pipeline job; stable, so re-adding a flow never duplicates work. */
export const stepJobId = (jobId: string, step: StepName): string => `${jobId}.${step}`;

/** Payload of every step job in Redis. Only identifiers: job data is stored in clear text. */
export interface StepJobData {
  jobId: string;
  step: StepName;
}
