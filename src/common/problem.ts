/**
 * RFC 9457 problem details. Every error the API returns is one of these, with a stable `code` that
 * clients can switch on (the `title` and `detail` are for people and may change).
 */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  instance?: string;
  requestId?: string;
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Base URI of the problem types; each code gets its own documented type. */
export const PROBLEM_TYPE_BASE = 'https://wasm-signer.dev/problems/';

export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    /** Response headers that belong to this problem (WWW-Authenticate, Retry-After, RateLimit…). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail ?? title);
    this.name = 'ProblemError';
  }

  toDocument(instance?: string, requestId?: string): ProblemDocument {
    return {
      type: PROBLEM_TYPE_BASE + this.code.toLowerCase().replace(/_/g, '-'),
      title: this.title,
      status: this.status,
      code: this.code,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
      ...(instance === undefined ? {} : { instance }),
      ...(requestId === undefined ? {} : { requestId }),
      ...this.extensions,
    };
  }
}

/** Retry-After of a 503 for a dependency that is away (Redis): it reconnects within a few seconds of coming back. */
export const DEPENDENCY_RETRY_AFTER_SECONDS = 5;

export const problems = {
  validation: (errors: { field: string; message: string }[]) =>
    new ProblemError(400, 'VALIDATION_FAILED', 'The request is not valid', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors }),
  notFound: (what: string, id: string) =>
    new ProblemError(404, `${what.toUpperCase().replace(/ /g, '_')}_NOT_FOUND`, `No such ${what.toLowerCase()}`, `${what} ${id} does not exist`),
  shuttingDown: () => new ProblemError(503, 'SHUTTING_DOWN', 'The service is shutting down', 'Retry against another instance'),
  /** Redis, which holds the queues, is away: a retry after a few seconds may be accepted. */
  queueUnavailable: (detail: string) =>
    new ProblemError(503, 'QUEUE_UNAVAILABLE', 'The job queue is unavailable', detail, {}, { 'Retry-After': String(DEPENDENCY_RETRY_AFTER_SECONDS) }),
  idempotencyKeyReused: (jobId: string) =>
    new ProblemError(
      422,
      'IDEMPOTENCY_KEY_REUSED',
      'Idempotency-Key already used',
      'This Idempotency-Key was used for a different request (another body or other parameters); use a new key for a new request',
      { jobId },
    ),
};
