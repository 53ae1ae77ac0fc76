import { CodedError } from '../common/coded-error';

/**
 * How a pipeline step fails when no library error says it better. A transient error (network, a
 * dependency's 5xx, throttling) is retried with backoff, honouring the server's Retry-After; a permanent
 * one (bad input, refused credentials, unknown repository) fails the job at once and its code and
 * message reach the caller. Any CodedError thrown by a step is read the same way.
 */
export class StepError extends CodedError {
  constructor(code: string, message: string, transient: boolean, retryAfterMs?: number, options?: { cause?: unknown }) {
    super(code, message, { transient, retryAfterMs, cause: options?.cause });
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
 * Any error thrown by a step, as a CodedError: one that already is keeps its code, `transient` and
 * `retryAfterMs`. Anything else is unexpected: retried, and reported with its message.
 */
export function asStepError(error: unknown): CodedError {
  if (error instanceof CodedError) return error;
  return StepError.transient('INTERNAL_ERROR', error instanceof Error ? error.message : String(error), undefined, error);
}

/**
 * Delay before retry `attemptsMade` (1-based): the server's Retry-After when given, else exponential
 * backoff from `baseMs` (capped at 60 s) with jitter over its upper half.
 */
export function retryDelayMs(attemptsMade: number, error: unknown, random: () => number = Math.random, baseMs = 1_000): number {
  if (error instanceof CodedError && error.retryAfterMs !== undefined) return Math.min(error.retryAfterMs, 10 * 60_000);
  const ceiling = Math.min(baseMs * 2 ** Math.max(0, attemptsMade - 1), 60_000);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
