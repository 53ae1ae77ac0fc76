/** The publish job's data, declared with every job type's in the job catalogue. */
export type { PublishJobInput, PushResult } from '../pipeline/job-catalogue';
