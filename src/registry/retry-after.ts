/**
 * `Retry-After` (RFC 9110 §10.2.3): either a number of seconds or an HTTP date. Returns the delay in
 * milliseconds, or undefined when the header is absent or unreadable (the queue then backs off on its own).
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only date forms: a bare "-5" or "1.5" is malformed, not a date.
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
