import { ProblemError } from '../common/problem';

/**
 * How a pipeline step fails. A transient error (network, 5xx, 429) is retried with backoff, honouring
 * the server's Retry-After; a permanent one (bad input, 401/403, unknown repository) fails the job at
 * once and its code and message reach the caller.
 */
export class StepError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly transient: boolean,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StepError';
  }

  static permanent(code: string, message: string, cause?: unknown): StepError {
    return new StepError(code, message, false, undefined, { cause });
  }

  static transient(code: string, message: string, retryAfterMs?: number, cause?: unknown): StepError {
    return new StepError(code, message, true, retryAfterMs, { cause });
  }
}

/**
 * Any error thrown by a step, as a StepError. Problems made for HTTP callers (shared code paths) keep
 * their code, 5xx ones transient and 4xx ones permanent. Anything else is unexpected: retried, and
 * reported with its message.
 */
export function asStepError(error: unknown): StepError {
  if (error instanceof StepError) return error;
  if (error instanceof ProblemError) {
    const message = error.detail ?? error.title;
    return error.status >= 500 ? StepError.transient(error.code, message) : StepError.permanent(error.code, message);
  }
  return StepError.transient('INTERNAL_ERROR', error instanceof Error ? error.message : String(error), undefined, error);
}

/**
 * Delay before retry `attemptsMade` (1-based): the server's Retry-After when given, else exponential
 * backoff from `baseMs` (capped at 60 s) with jitter over its upper half.
 */
export function retryDelayMs(attemptsMade: number, error: unknown, random: () => number = Math.random, baseMs = 1_000): number {
  if (error instanceof StepError && error.retryAfterMs !== undefined) return Math.min(error.retryAfterMs, 10 * 60_000);
  const ceiling = Math.min(baseMs * 2 ** Math.max(0, attemptsMade - 1), 60_000);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
