import { isCanonicalUuid } from '../common/uuid';

/**
 * The position after the last row of a page (signatures, API keys, audit events), for listings ordered by (created_at desc, id desc):
 * that row's creation time with the database's microseconds and its id. Clients get it as an
 * opaque base64url string.
 */
export interface PageCursor {
  /** RFC 3339 UTC with microseconds, e.g. `2026-11-25T17:49:54.123456Z`. */
  createdAt: string;
  id: string;
}

const CREATED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

export function encodePageCursor(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify({ c: cursor.createdAt, i: cursor.id }), 'utf8').toString('base64url');
}

/** The cursor, or undefined when the text is not one this service issued. */
export function decodePageCursor(text: string): PageCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(text)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const { c, i } = (parsed ?? {}) as { c?: unknown; i?: unknown };
  if (typeof c !== 'string' || typeof i !== 'string' || !CREATED_AT.test(c) || !isCanonicalUuid(i)) return undefined;
  if (Number.isNaN(Date.parse(c))) return undefined;
  return { createdAt: c, id: i };
}
