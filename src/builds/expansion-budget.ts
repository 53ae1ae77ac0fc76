import { quotedName } from './printable-text';
import { SourceArchiveError } from './source-archive-errors';

/**
 * Below this many decompressed bytes the compression ratio is not checked: no archive that small is a
 * bomb, and small archives legitimately compress far beyond any sensible ratio (GNU tar pads even a one
 * byte file to a 10 KiB record, which gzip shrinks to a few dozen bytes).
 */
export const COMPRESSION_RATIO_FLOOR_BYTES = 1024 * 1024;

/**
 * Counts the bytes decompression produces while they are produced (the gunzipped tar stream; each zip
 * entry's inflated data), so that a bomb stops at the limit, whatever its headers claim: over
 * `maxExpandedBytes` is ARCHIVE_TOO_LARGE, over `maxCompressionRatio` times the archive's size (past the
 * floor above) ARCHIVE_COMPRESSION_RATIO. `entry` names the entry being read, for the message.
 */
export class ExpansionBudget {
  expandedBytes = 0;
  entry: string | undefined;

  constructor(
    private readonly archiveBytes: number,
    private readonly maxExpandedBytes: number,
    private readonly maxCompressionRatio: number,
  ) {}

  add(bytes: number): void {
    this.expandedBytes += bytes;
    const where = this.entry === undefined ? 'before the first entry' : `at entry ${quotedName(this.entry)}`;
    const options = this.entry === undefined ? {} : { entry: this.entry };
    if (this.expandedBytes > this.maxExpandedBytes) {
      throw new SourceArchiveError('ARCHIVE_TOO_LARGE', `The archive decompresses to more than ${this.maxExpandedBytes} bytes (the limit), reached ${where}`, options);
    }
    if (this.expandedBytes > COMPRESSION_RATIO_FLOOR_BYTES && this.expandedBytes > this.maxCompressionRatio * this.archiveBytes) {
      throw new SourceArchiveError(
        'ARCHIVE_COMPRESSION_RATIO',
        `The archive (${this.archiveBytes} bytes) decompresses to more than ${this.maxCompressionRatio} times its size, reached ${where}; is it a zip bomb?`,
        options,
      );
    }
  }
}
