import { createReadStream } from 'node:fs';
import { pipeline, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract, type Header } from 'tar-stream';
import type { ArchiveEntry, ArchiveEntryKind } from './archive-entry';
import type { ExpansionBudget } from './expansion-budget';
import { quotedName } from './printable-text';
import { archiveReadFailure, SourceArchiveError } from './source-archive-errors';

const KINDS: Record<string, { kind: ArchiveEntryKind; detail?: string }> = {
  file: { kind: 'file' },
  'contiguous-file': { kind: 'file' }, // GNU tar reads it as a regular file
  directory: { kind: 'directory' },
  symlink: { kind: 'symlink' },
  link: { kind: 'hardlink' },
  'character-device': { kind: 'special', detail: 'a character device' },
  'block-device': { kind: 'special', detail: 'a block device' },
  fifo: { kind: 'special', detail: 'a fifo' },
};

/** tar-stream's header, as it really is: an unknown type flag gives no type, and PAX records are strings. */
type TarHeader = Omit<Header, 'type' | 'pax'> & { type: Header['type'] | null; pax?: Record<string, string> | null };

function entryOf(header: TarHeader, content: () => AsyncIterable<Buffer>): ArchiveEntry {
  const sparse = Object.keys(header.pax ?? {}).some((key) => key.startsWith('GNU.sparse.'));
  const known = header.type ? KINDS[header.type] : undefined;
  const { kind, detail } = sparse
    ? { kind: 'unsupported' as const, detail: 'a sparse file' }
    : (known ?? { kind: 'unsupported' as const, detail: 'of a tar entry type that is not supported (GNU sparse file, volume label, multi-volume part, …)' });
  return {
    name: header.name,
    kind,
    detail,
    executable: ((header.mode ?? 0) & 0o100) !== 0,
    declaredSize: header.size ?? 0,
    linkTarget: header.linkname ?? undefined,
    content,
  };
}

/** An entry's data; a failure while reading it (truncated, corrupt) is the archive's. */
async function* contentOf(data: AsyncIterable<Buffer>, name: string): AsyncGenerator<Buffer> {
  try {
    yield* data;
  } catch (error) {
    throw archiveReadFailure(error, `The tar.gz archive is corrupt or truncated in entry ${quotedName(name)}`, name);
  }
}

/**
 * The entries of a gzip-compressed tar archive, read as a stream (file → gunzip → tar-stream): memory
 * stays bounded whatever the archive's size, and every decompressed byte (headers and padding included)
 * is counted by `budget` as it is produced. Corrupt or truncated gzip or tar data, or anything after the
 * gzip stream that is not another gzip member, is ARCHIVE_INVALID.
 */
export async function* tarGzEntries(archivePath: string, budget: ExpansionBudget): AsyncGenerator<ArchiveEntry> {
  const extract = tarExtract();
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        budget.add(chunk.length);
        callback(null, chunk);
      } catch (error) {
        callback(error as Error);
      }
    },
  });
  let streamError: unknown;
  const piped = new Promise<void>((resolve) =>
    pipeline(createReadStream(archivePath), createGunzip(), counter, extract as unknown as NodeJS.WritableStream, (error) => {
      streamError ??= error ?? undefined;
      resolve();
    }),
  );
  let last: string | undefined;
  try {
    for await (const entryStream of extract) {
      const header = entryStream.header as unknown as TarHeader;
      last = header.name;
      // tar-stream passes an unreadable size field as null (or NaN), and then never ends the entry's data.
      const size: unknown = header.size;
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) {
        throw new SourceArchiveError('ARCHIVE_INVALID', `Tar entry ${quotedName(header.name)} has a size field that is not a number`, { entry: header.name });
      }
      let taken = false;
      yield entryOf(header, () => {
        taken = true;
        return contentOf(entryStream as AsyncIterable<Buffer>, header.name);
      });
      // Unread data is discarded as it flows. (Not drained with a loop: tar-stream never ends the stream
      // of a directory whose header claims a size, and reads its "data" as the next headers.)
      if (!taken) entryStream.resume();
    }
    await piped;
    if (streamError) throw streamError;
  } catch (error) {
    throw archiveReadFailure(error, `The tar.gz archive is corrupt or truncated${last === undefined ? '' : ` (read up to entry ${quotedName(last)})`}`, last);
  } finally {
    extract.destroy();
    await piped;
  }
}
