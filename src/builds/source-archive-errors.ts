import { CodedError, errorCodes } from '../common/coded-error';
import { printableText } from './printable-text';

/**
 * Why a source archive is refused. Every refusal is the caller's archive at fault (a 4xx at the API,
 * a permanent failure in a build job); none is transient.
 *
 * - ARCHIVE_PATH_TRAVERSAL: a `..` component in an entry's name;
 * - ARCHIVE_ABSOLUTE_PATH: a name starting with `/`, `\` or a drive letter (`C:`);
 * - ARCHIVE_NAME_INVALID: a name that cannot be written as is: empty, NUL or another control character,
 *   not UTF-8, longer than maxPathBytes, deeper than maxDepth, or a component longer than 255 bytes;
 * - ARCHIVE_LINK_ESCAPES: a symbolic link that is absolute, resolves outside the tree or into a directory
 *   loop; any hard link (hard links are not unpacked at all);
 * - ARCHIVE_SPECIAL_FILE: a device, fifo or socket;
 * - ARCHIVE_TOO_LARGE: the archive, an entry or the decompressed bytes over their limit;
 * - ARCHIVE_TOO_MANY_FILES: more entries (files, directories, links) than maxFiles;
 * - ARCHIVE_COMPRESSION_RATIO: decompressed bytes over maxCompressionRatio times the archive's size;
 * - ARCHIVE_DUPLICATE_ENTRY: the same path twice, a file where a directory is, or a path through a link;
 * - ARCHIVE_INVALID: a corrupt or truncated gzip, tar or zip, an encrypted zip entry, an unsupported
 *   compression method or entry type (sparse file, GNU volume), headers that contradict each other;
 * - ARCHIVE_FORMAT_UNSUPPORTED: neither gzip-compressed tar nor zip (or not the declared one);
 * - ARCHIVE_EMPTY: no regular file in the archive.
 */
export const SOURCE_ARCHIVE_ERROR_CODES = errorCodes(
  'ARCHIVE_PATH_TRAVERSAL',
  'ARCHIVE_ABSOLUTE_PATH',
  'ARCHIVE_NAME_INVALID',
  'ARCHIVE_LINK_ESCAPES',
  'ARCHIVE_SPECIAL_FILE',
  'ARCHIVE_TOO_LARGE',
  'ARCHIVE_TOO_MANY_FILES',
  'ARCHIVE_COMPRESSION_RATIO',
  'ARCHIVE_DUPLICATE_ENTRY',
  'ARCHIVE_INVALID',
  'ARCHIVE_FORMAT_UNSUPPORTED',
  'ARCHIVE_EMPTY',
);
export type SourceArchiveErrorCode = keyof typeof SOURCE_ARCHIVE_ERROR_CODES;

export class SourceArchiveError extends CodedError<SourceArchiveErrorCode> {
  /** The offending entry's name as the archive wrote it, when one entry is at fault (messages quote it escaped). */
  readonly entry?: string;

  constructor(code: SourceArchiveErrorCode, message: string, options: { entry?: string; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause });
    this.name = 'SourceArchiveError';
    if (options.entry !== undefined) this.entry = options.entry;
  }
}

/**
 * A failure met while reading an archive, as callers see it: refusals as they are, file system errors
 * (reading the archive, writing the tree: not the archive's fault) unchanged, anything a parser or zlib
 * threw as ARCHIVE_INVALID, its message after `context` (which says where reading stopped).
 */
export function archiveReadFailure(error: unknown, context: string, entry?: string): unknown {
  if (error instanceof SourceArchiveError) return error;
  if (error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string') return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SourceArchiveError('ARCHIVE_INVALID', `${context}: ${printableText(message)}`, { entry, cause: error });
}
