/**
 * The one error that decides retries. Libraries (registry, Sigstore clients, reference parser, identity
 * providers) and steps throw it with a typed `code`; the pipeline reads `transient` and `retryAfterMs`
 * to choose between retrying and failing the job, and the edge turns it into an HTTP problem. It knows
 * nothing of HTTP or queues, so any layer may throw it.
 *
 * Codes are declared once per module as constants (`export const X_ERROR_CODES = {…} as const`) and
 * subclasses narrow `C` to their own codes.
 */
export class CodedError<C extends string = string> extends Error {
  readonly code: C;
  /** Re-running the same work may succeed (network, throttling, a dependency's 5xx). */
  readonly transient: boolean;
  /** How long the other side asked us to wait (Retry-After), when it said. */
  readonly retryAfterMs?: number;

  constructor(code: C, message: string, options: CodedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CodedError';
    this.code = code;
    this.transient = options.transient ?? false;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

export interface CodedErrorOptions {
  /** Default false: an error is permanent unless its thrower knows that trying again can help. */
  transient?: boolean;
  retryAfterMs?: number;
  cause?: unknown;
}

/** Declares a module's error codes once: `{ X: 'X', … }`, so each is a typed constant. */
export function errorCodes<const K extends string>(...codes: K[]): { readonly [P in K]: P } {
  return Object.freeze(Object.fromEntries(codes.map((code) => [code, code]))) as { readonly [P in K]: P };
}
