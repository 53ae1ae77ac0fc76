import { ProblemError } from './problem';

/** The longest Idempotency-Key accepted. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
/** How the API description documents the header. */
export const IDEMPOTENCY_KEY_SCHEMA = { type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH, pattern: '^[\\x21-\\x7e]+$' } as const;

/** Validates an Idempotency-Key header (IETF draft: a unique string chosen by the client). */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === '') return undefined;
  if (value.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(value)) {
    throw new ProblemError(400, 'INVALID_IDEMPOTENCY_KEY', 'Invalid Idempotency-Key', 'Idempotency-Key must be 1-255 visible ASCII characters');
  }
  return value;
}
