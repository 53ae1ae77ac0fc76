import { crc32 } from 'node:zlib';
import { type Entry, type LocalFileHeader, openPromise, type ZipFile } from 'yauzl';
import type { ArchiveEntry, ArchiveEntryKind } from './archive-entry';
import type { ExpansionBudget } from './expansion-budget';
import { quotedName } from './printable-text';
import { archiveReadFailure, SourceArchiveError } from './source-archive-errors';

const S_IFMT = 0o170000;
const SPECIAL_TYPES: Record<number, string> = { 0o020000: 'a character device', 0o060000: 'a block device', 0o010000: 'a fifo', 0o140000: 'a socket' };
/** Zip "version made by" hosts whose external attributes carry a Unix mode in their high 16 bits: Unix, macOS. */
const UNIX_HOSTS = new Set([3, 19]);
const MSDOS_DIRECTORY = 0x10;
const FLAG_ENCRYPTED = 0x1;
const FLAG_DATA_DESCRIPTOR = 0x8;
const STORED = 0;
const DEFLATED = 8;
/** A local header's size field with this value defers to its zip64 extra field. */
const ZIP64_SIZE = 0xffffffff;

/** Entries as yauzl's lazy, event-based reader gives them, one `next()` at a time; its errors reject the pending or the next call. */
class ZipEntryCursor {
  private pending: { resolve: (entry: Entry | undefined) => void; reject: (error: unknown) => void } | undefined;
  private failure: unknown;
  private ended = false;

  constructor(private readonly zip: ZipFile) {
    zip.on('entry', (entry: Entry) => this.settle((p) => p.resolve(entry)));
    zip.on('end', () => {
      this.ended = true;
      this.settle((p) => p.resolve(undefined));
    });
    zip.on('error', (error: unknown) => {
      this.failure ??= error;
      this.settle((p) => p.reject(error));
    });
  }

  private settle(action: (pending: NonNullable<ZipEntryCursor['pending']>) => void): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending) action(pending);
  }

  next(): Promise<Entry | undefined> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.zip.readEntry();
    });
  }
}

/** Byte ranges of the archive that entries occupy (local header and data): no two may overlap. */
class ByteRanges {
  private readonly ranges: { start: number; end: number; name: string }[] = [];

  add(start: number, end: number, name: string): void {
    this.ranges.push({ start, end, name });
  }

  /** Two entries whose bytes overlap, if any: found once every entry is known, so a hostile order costs a sort. */
  firstOverlap(): [string, string] | undefined {
    const sorted = [...this.ranges].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) if (sorted[i]!.start < sorted[i - 1]!.end) return [sorted[i - 1]!.name, sorted[i]!.name];
    return undefined;
  }
}

function invalid(name: string, why: string): SourceArchiveError {
  return new SourceArchiveError('ARCHIVE_INVALID', `Zip entry ${quotedName(name)} ${why}`, { entry: name });
}

/** What the local header contradicts in the central directory's record of the same entry, or undefined. */
function disagreement(entry: Entry, local: LocalFileHeader): string | undefined {
  if (!local.fileName.equals(entry.fileNameRaw)) return 'name';
  if (local.compressionMethod !== entry.compressionMethod) return 'compression method';
  if ((local.generalPurposeBitFlag & FLAG_ENCRYPTED) !== (entry.generalPurposeBitFlag & FLAG_ENCRYPTED)) return 'encryption flag';
  if (local.generalPurposeBitFlag & FLAG_DATA_DESCRIPTOR) return undefined; // sizes and CRC follow the data, checked while reading
  if (local.crc32 !== entry.crc32) return 'CRC-32';
  if (local.compressedSize !== ZIP64_SIZE && local.compressedSize !== entry.compressedSize) return 'compressed size';
  if (local.uncompressedSize !== ZIP64_SIZE && local.uncompressedSize !== entry.uncompressedSize) return 'size';
  return undefined;
}

/** An entry's decompressed data, counted by `budget` and checked against its CRC-32 once read. */
async function* contentOf(zip: ZipFile, entry: Entry, name: string, budget: ExpansionBudget): AsyncGenerator<Buffer> {
  try {
    const stream = await zip.openReadStreamPromise(entry);
    try {
      let crc = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        budget.add(chunk.length);
        crc = crc32(chunk, crc);
        yield chunk;
      }
      if (crc >>> 0 !== entry.crc32 >>> 0) throw invalid(name, 'has data that does not match its CRC-32');
    } finally {
      stream.destroy();
    }
  } catch (error) {
    throw archiveReadFailure(error, `Zip entry ${quotedName(name)} cannot be read`, name);
  }
}

/** The kind of an entry: from its name's trailing slash, its Unix mode (Unix and macOS zips) or its MS-DOS directory attribute. */
function kindOf(entry: Entry, name: string): { kind: ArchiveEntryKind; detail?: string; executable: boolean } {
  const unix = UNIX_HOSTS.has(entry.versionMadeBy >> 8);
  const mode = unix ? entry.externalFileAttributes >>> 16 : 0;
  const type = mode & S_IFMT;
  const executable = (mode & 0o100) !== 0;
  if (/[/\\]$/.test(name) || type === 0o040000 || (!unix && (entry.externalFileAttributes & MSDOS_DIRECTORY) !== 0)) return { kind: 'directory', executable };
  if (type === 0o120000) return { kind: 'symlink', executable };
  if (type === 0 || type === 0o100000) return { kind: 'file', executable };
  const special = SPECIAL_TYPES[type];
  return special ? { kind: 'special', detail: special, executable } : { kind: 'unsupported', detail: `of an unknown file type (mode ${mode.toString(8)})`, executable };
}

/**
 * The entries of a zip archive, from its central directory (yauzl reads it lazily, one record at a
 * time, and each entry's data through a stream). Beyond what yauzl checks (sizes while inflating, bounds,
 * zip64 records, data after the central directory), an entry is ARCHIVE_INVALID when it is encrypted,
 * uses a compression method other than stored or deflate, when its local header contradicts the central
 * directory (two readers would see two different archives), when its data does not match its CRC-32, or
 * when two entries share bytes (a trick of zip bombs). Names are read as UTF-8 whatever the archive's flag
 * says (what tools write today); names that are not UTF-8 are refused by the name checks. At most
 * `maxEntries` entries (the count in the end of central directory record is checked first), and a link's
 * target at most `maxLinkBytes` long.
 */
export async function* zipEntries(archivePath: string, budget: ExpansionBudget, limits: { maxEntries: number; maxLinkBytes: number }): AsyncGenerator<ArchiveEntry> {
  let zip: ZipFile;
  try {
    zip = await openPromise(archivePath, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true });
  } catch (error) {
    throw archiveReadFailure(error, 'The zip archive is corrupt or truncated');
  }
  let last: string | undefined;
  try {
    if (zip.entryCount > limits.maxEntries) {
      throw new SourceArchiveError('ARCHIVE_TOO_MANY_FILES', `The zip archive lists ${zip.entryCount} entries, more than the ${limits.maxEntries} allowed`);
    }
    const cursor = new ZipEntryCursor(zip);
    const ranges = new ByteRanges();
    for (let entry = await cursor.next(); entry !== undefined; entry = await cursor.next()) {
      const name = entry.fileNameRaw.toString('utf8');
      last = name;
      budget.entry = name;
      if (entry.generalPurposeBitFlag & FLAG_ENCRYPTED) throw invalid(name, 'is encrypted; encrypted archives are not supported');
      if (entry.compressionMethod !== STORED && entry.compressionMethod !== DEFLATED) {
        throw invalid(name, `uses compression method ${entry.compressionMethod}; only stored (0) and deflate (8) are supported`);
      }
      const local = await zip.readLocalFileHeaderPromise(entry);
      const contradicted = disagreement(entry, local);
      if (contradicted) throw invalid(name, `has a local header whose ${contradicted} disagrees with the central directory`);
      ranges.add(entry.relativeOffsetOfLocalHeader, local.fileDataStart + entry.compressedSize, name);

      const { kind, detail, executable } = kindOf(entry, name);
      let linkTarget: string | undefined;
      if (kind === 'directory' && entry.uncompressedSize > 0) throw invalid(name, 'is a directory with content');
      if (kind === 'symlink') {
        if (entry.uncompressedSize > limits.maxLinkBytes) {
          throw new SourceArchiveError('ARCHIVE_NAME_INVALID', `Symbolic link ${quotedName(name)}: its target is longer than ${limits.maxLinkBytes} bytes`, { entry: name });
        }
        const chunks: Buffer[] = [];
        for await (const chunk of contentOf(zip, entry, name, budget)) chunks.push(chunk);
        linkTarget = Buffer.concat(chunks).toString('utf8');
      }
      const current = entry;
      yield { name, kind, detail, executable, declaredSize: entry.uncompressedSize, linkTarget, content: () => contentOf(zip, current, name, budget) };
    }
    const overlap = ranges.firstOverlap();
    if (overlap) throw invalid(overlap[1], `shares bytes of the archive with entry ${quotedName(overlap[0])}`);
  } catch (error) {
    throw archiveReadFailure(error, `The zip archive is corrupt${last === undefined ? '' : ` (read up to entry ${quotedName(last)})`}`, last);
  } finally {
    zip.close();
  }
}
