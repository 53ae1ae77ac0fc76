/**
 * The rate-limit response fields of draft-ietf-httpapi-ratelimit-headers (its structured-field form):
 *
 *     RateLimit-Policy: "uploads";q=60;w=60     the policy: quota q per window of w seconds
 *     RateLimit: "uploads";r=59;t=42            what is left of it: r requests, t seconds until it refills
 *
 * and `Retry-After` (RFC 9110) on a refusal. A few lines of formatting: no library writes the draft's
 * current form, and the values here are only names of our own and integers.
 */

/** One caller's standing against one quota policy after a request was counted. */
export interface QuotaState {
  /** The policy's name: the route category (`uploads`, `signatures`, `verifications`). */
  policy: string;
  /** Requests allowed per window. */
  quota: number;
  windowSeconds: number;
  /** Requests left in the current window (0 when spent). */
  remaining: number;
  /** Time until the window ends and the quota is whole again. */
  resetMs: number;
}

/** Whole seconds until `ms` has passed, at least 1: a client told 0 would retry at once. */
export function secondsUntil(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** The RateLimit-Policy and RateLimit fields of a counted request. */
export function rateLimitFields(state: QuotaState): Record<string, string> {
  const name = structuredString(state.policy);
  return {
    'RateLimit-Policy': `${name};q=${nonNegative(state.quota)};w=${nonNegative(state.windowSeconds)}`,
    RateLimit: `${name};r=${nonNegative(state.remaining)};t=${secondsUntil(state.resetMs)}`,
  };
}

/** The fields of a refused request: when to retry, and the policy it ran out of. */
export function rateLimitedFields(state: QuotaState): Record<string, string> {
  return { 'Retry-After': String(secondsUntil(state.resetMs)), ...rateLimitFields({ ...state, remaining: 0 }) };
}

/** A structured-field String (RFC 8941 §3.3.3): printable ASCII in quotes, `"` and `\` escaped. */
function structuredString(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new Error(`a structured-field string holds printable ASCII only: ${JSON.stringify(value)}`);
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A structured-field Integer for a count: a whole number, never negative. */
function nonNegative(value: number): number {
  return Math.max(0, Math.floor(value));
}
