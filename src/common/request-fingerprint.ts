import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level and undefined members left out, so that two requests
 * that mean the same (fields in another order, an absent optional field) give the same text.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const members = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${members.join(',')}}`;
}

/**
 * The fingerprint stored with a job created under an Idempotency-Key (jobs.request_hash): sha256 over the
 * kind of request and its canonical form. A replay of the key must have the same fingerprint.
 */
export function requestFingerprint(kind: string, request: unknown): string {
  return createHash('sha256')
    .update(`${kind}\n${canonicalJson(request)}`)
    .digest('hex');
}
