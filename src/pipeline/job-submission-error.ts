import { CodedError, errorCodes } from '../common/coded-error';

export const JOB_SUBMISSION_ERROR_CODES = errorCodes('SHUTTING_DOWN', 'QUEUE_UNAVAILABLE', 'IDEMPOTENCY_KEY_REUSED');
export type JobSubmissionErrorCode = keyof typeof JOB_SUBMISSION_ERROR_CODES;

/** Why the engine did not accept a job. The HTTP edge answers it (jobSubmissionProblem). */
export class JobSubmissionError extends CodedError<JobSubmissionErrorCode> {
  constructor(
    code: JobSubmissionErrorCode,
    message: string,
    /** IDEMPOTENCY_KEY_REUSED: the job the key belongs to. */
    readonly jobId?: string,
  ) {
    super(code, message, { transient: code !== 'IDEMPOTENCY_KEY_REUSED' });
    this.name = 'JobSubmissionError';
  }
}
