import { CodedError } from '../common/coded-error';
import { ProblemError } from '../common/problem';

/**
 * A refused build request, as the caller sees it: the source archive's and git source's checks, and the
 * builder options, each with its stable code (the message names the entry or field).
 */
const STATUS: Record<string, { status: number; title: string }> = {
  INVALID_BUILDER_OPTIONS: { status: 400, title: 'The builder options are not valid' },
  GIT_URL_INVALID: { status: 400, title: 'The git source is not valid' },
  GIT_COMMIT_NOT_FULL: { status: 400, title: 'The git source is not valid' },
  GIT_SOURCES_DISABLED: { status: 403, title: 'Git sources are not enabled' },
  GIT_HOST_NOT_ALLOWED: { status: 403, title: 'This git server may not be used' },
  ARCHIVE_TOO_LARGE: { status: 413, title: 'The source archive is too large' },
  ARCHIVE_TOO_MANY_FILES: { status: 413, title: 'The source archive has too many entries' },
  ARCHIVE_COMPRESSION_RATIO: { status: 413, title: 'The source archive unpacks too large' },
};

export function buildProblem(error: unknown): Error {
  if (error instanceof ProblemError || !(error instanceof CodedError)) return error as Error;
  const known = STATUS[error.code];
  if (known) return new ProblemError(known.status, error.code, known.title, error.message);
  // Every other check of the source archive (paths, links, special files, a corrupt archive) is a 422.
  if (error.code.startsWith('ARCHIVE_')) return new ProblemError(422, error.code, 'The source archive cannot be built', error.message);
  return error;
}

/** The codes a build request can be refused with, for the API description. */
export const ARCHIVE_REFUSAL_CODES =
  'ARCHIVE_PATH_TRAVERSAL, ARCHIVE_ABSOLUTE_PATH, ARCHIVE_LINK_ESCAPES (also: more than 1024 links), ARCHIVE_SPECIAL_FILE, ARCHIVE_DUPLICATE_ENTRY, ARCHIVE_NAME_INVALID, ARCHIVE_INVALID, ARCHIVE_FORMAT_UNSUPPORTED, ARCHIVE_EMPTY';
