import type { RateLimitCategory } from '../access/authorize';
import { DEPENDENCY_RETRY_AFTER_SECONDS, ProblemError } from '../common/problem';
import { type QuotaState, rateLimitedFields, secondsUntil } from './rate-limit-headers';

/**
 * How long a caller refused for too many concurrent uploads is asked to wait. When one of its uploads
 * ends cannot be known; 5 s keeps a client that retries on Retry-After well inside its per-minute budget.
 */
export const CONCURRENT_UPLOADS_RETRY_AFTER_SECONDS = 5;

export const rateLimitProblems = {
  rateLimited: (category: RateLimitCategory, state: QuotaState) =>
    new ProblemError(
      429,
      'RATE_LIMITED',
      'Too many requests',
      `this caller's ${category} budget of ${state.quota} requests per ${state.windowSeconds} s is spent; retry in ${secondsUntil(state.resetMs)} s`,
      { category, limit: state.quota, windowSeconds: state.windowSeconds, retryAfterSeconds: secondsUntil(state.resetMs) },
      rateLimitedFields(state),
    ),
  tooManyConcurrentUploads: (cap: number) =>
    new ProblemError(
      429,
      'TOO_MANY_CONCURRENT_UPLOADS',
      'Too many uploads at once',
      `this caller may have at most ${cap} uploads in progress at once; retry when one of them has finished`,
      { limit: cap, retryAfterSeconds: CONCURRENT_UPLOADS_RETRY_AFTER_SECONDS },
      { 'Retry-After': String(CONCURRENT_UPLOADS_RETRY_AFTER_SECONDS) },
    ),
  /** Redis could not count the request: refused rather than let through unlimited (see CallerRateLimits). */
  unavailable: () =>
    new ProblemError(
      503,
      'RATE_LIMIT_UNAVAILABLE',
      'The rate limits cannot be checked',
      'Redis, which counts the rate limits, is unavailable; retry later',
      {},
      {
        'Retry-After': String(DEPENDENCY_RETRY_AFTER_SECONDS),
      },
    ),
};
