import { sql } from 'kysely';
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

/**
 * The cursor, or undefined when the text is not one this service issued. `isId` says what a row id of
 * the listing looks like (canonical UUIDs unless the listing's ids are text, such as webhook-ids).
 */
export function decodePageCursor(text: string, isId: (id: string) => boolean = isCanonicalUuid): PageCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(text)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const { c, i } = (parsed ?? {}) as { c?: unknown; i?: unknown };
  if (typeof c !== 'string' || typeof i !== 'string' || !CREATED_AT.test(c) || !isId(i)) return undefined;
  if (Number.isNaN(Date.parse(c))) return undefined;
  return { createdAt: c, id: i };
}

/**
 * The pieces of a keyset page over (created_at desc, id desc), shared by every cursor-paged listing:
 * select `createdAtExact` as `created_at_exact` (microseconds; a JS Date keeps milliseconds, so a cursor
 * made from one would skip or repeat rows), filter with `afterCursor`, fetch `limit + 1` rows, then
 * `pageOf` cuts the page and makes the next cursor.
 */
export const createdAtExact = sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export const afterCursor = (after: PageCursor) => sql<boolean>`(created_at, id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`;

/**
 * `afterCursor` for a listing whose ids are text: compared (and ordered, with `textIdDescending`) byte
 * by byte, so that the order does not depend on the database's collation.
 */
export const afterTextIdCursor = (after: PageCursor) => sql<boolean>`(created_at, id collate "C") < (${after.createdAt}::timestamptz, ${after.id} collate "C")`;

/** The order of a text-id listing that `afterTextIdCursor` pages through. */
export const textIdDescending = sql`id collate "C" desc`;

export function pageOf<R extends { id: string; created_at_exact: string }>(rows: R[], limit: number): { rows: Omit<R, 'created_at_exact'>[]; next: PageCursor | undefined } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    rows: page.map(({ created_at_exact: _exact, ...row }) => row),
    next: rows.length > limit && last ? { createdAt: last.created_at_exact, id: last.id } : undefined,
  };
}
