import { timingSafeEqual } from 'node:crypto';

/** True when an Authorization header carries HTTP basic credentials `admin:<password>`. Constant time. */
export function hasAdminCredentials(header: string | undefined, password: string): boolean {
  if (!header?.startsWith('Basic ')) return false;
  const expected = Buffer.from(`admin:${password}`);
  const given = Buffer.from(Buffer.from(header.slice(6), 'base64').toString('utf8'));
  return given.length === expected.length && timingSafeEqual(given, expected);
}
