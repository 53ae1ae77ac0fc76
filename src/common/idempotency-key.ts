import { ProblemError } from './problem';

/** Validates an Idempotency-Key header (IETF draft: a unique string chosen by the client). */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === '') return undefined;
  if (value.length > 255 || !/^[\x21-\x7e]+$/.test(value)) {
    throw new ProblemError(400, 'INVALID_IDEMPOTENCY_KEY', 'Invalid Idempotency-Key', 'Idempotency-Key must be 1-255 visible ASCII characters');
  }
  return value;
}
