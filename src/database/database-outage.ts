import { CodedError, errorCodes } from '../common/coded-error';
import { ProblemError } from '../common/problem';

export const DATABASE_OUTAGE_CODES = errorCodes('DATABASE_UNAVAILABLE', 'DATABASE_STORAGE_FULL');
export type DatabaseOutageCode = keyof typeof DATABASE_OUTAGE_CODES;

/** How long a caller refused because of an outage is asked to wait (Retry-After). */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/**
 * The database cannot take the statement now, through no fault of the statement: unreachable, its
 * connection dropped, shutting down, or out of room. Transient: the same statement may succeed later.
 */
export class DatabaseOutageError extends CodedError<DatabaseOutageCode> {
  constructor(code: DatabaseOutageCode, message: string, cause?: unknown) {
    super(code, message, { transient: true, retryAfterMs: DATABASE_RETRY_AFTER_SECONDS * 1000, cause });
    this.name = 'DatabaseOutageError';
  }
}

/** Socket errors of the link to PostgreSQL. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);
/** node-postgres's own words for a connection it lost or could not make. */
const CONNECTION_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Cannot use a pool after calling end)/;
/** SQLSTATEs of a server that cannot serve now: class 08 (connection), 57P01-57P03 (shutting down, starting). */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-3])$/;
/** SQLSTATE 53100 disk_full, and the file system's own word. */
const STORAGE_FULL_SQLSTATE = '53100';
const STORAGE_FULL_MESSAGE = /No space left on device|ENOSPC|could not extend file|disk full|EFBIG|File too large/i;

/**
 * The outage an error of the database driver stands for, if it is one. Only for errors the driver threw
 * (a refused connection anywhere else is some other dependency's outage). A statement the database
 * refused for what it says (a constraint, a syntax error) is no outage: undefined.
 */
export function classifyDriverError(error: unknown): DatabaseOutageError | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  let unavailable: unknown;
  while (queue.length > 0) {
    const current = queue.shift();
    if (!current || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    if (current instanceof DatabaseOutageError) return current;
    const { code, message, cause, errors } = current as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    const text = typeof message === 'string' ? message : '';
    if (code === STORAGE_FULL_SQLSTATE || code === 'ENOSPC' || code === 'EFBIG' || STORAGE_FULL_MESSAGE.test(text)) {
      return new DatabaseOutageError('DATABASE_STORAGE_FULL', `the database is out of storage: ${text || String(code)}`, error);
    }
    if (unavailable === undefined && ((typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) || CONNECTION_MESSAGES.test(text))) {
      unavailable = current;
    }
    queue.push(cause);
    if (Array.isArray(errors)) queue.push(...(errors as unknown[]));
  }
  if (unavailable === undefined) return undefined;
  const reason = (unavailable as { message?: string }).message || String((unavailable as { code?: unknown }).code);
  return new DatabaseOutageError('DATABASE_UNAVAILABLE', `the database is unavailable: ${reason}`, error);
}

/**
 * The database outage behind an error, if any: the error itself or one it was caused by (a step's error
 * wrapping the database's). Database errors are classified where the driver throws them
 * (outageAwareDialect), so another dependency's refused connection never reads as the database's.
 */
export function databaseOutage(error: unknown): DatabaseOutageError | undefined {
  const seen = new Set<unknown>();
  for (let current = error; current && typeof current === 'object' && !seen.has(current); current = (current as { cause?: unknown }).cause) {
    if (current instanceof DatabaseOutageError) return current;
    seen.add(current);
  }
  return undefined;
}

/** The HTTP answer to a request that failed because of a database outage (a ProblemMapper). */
export function databaseOutageProblem(error: unknown): ProblemError | undefined {
  const outage = databaseOutage(error);
  if (!outage) return undefined;
  const headers = { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) };
  if (outage.code === 'DATABASE_STORAGE_FULL') {
    return new ProblemError(
      503,
      outage.code,
      'The database is out of storage',
      'the database could not write for lack of space; the request may not have been carried out; retry later',
      {},
      headers,
    );
  }
  return new ProblemError(503, outage.code, 'The database is unavailable', 'the database did not answer; the request may not have been carried out; retry later', {}, headers);
}
