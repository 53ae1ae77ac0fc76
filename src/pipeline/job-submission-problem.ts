import { ProblemError, problems } from '../common/problem';
import { JobSubmissionError } from './job-submission-error';

/**
 * The HTTP answer to a job the engine did not accept; handed to the exception filter by the application
 * (src/app.ts), so the engine itself makes no HTTP problem.
 */
export function jobSubmissionProblem(error: unknown): ProblemError | undefined {
  if (!(error instanceof JobSubmissionError)) return undefined;
  switch (error.code) {
    case 'SHUTTING_DOWN':
      return problems.shuttingDown();
    case 'QUEUE_UNAVAILABLE':
      return problems.queueUnavailable(error.message);
    case 'IDEMPOTENCY_KEY_REUSED':
      return problems.idempotencyKeyReused(error.jobId ?? '');
  }
}
