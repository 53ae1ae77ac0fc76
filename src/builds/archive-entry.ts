/**
 * One entry of a source archive as the tar.gz and zip readers hand it over: what it claims to be, read
 * from its headers, and its content as a stream. The checks on it are made by source-archive.ts, the
 * same for both formats.
 */
export type ArchiveEntryKind = 'file' | 'directory' | 'symlink' | 'hardlink' | 'special' | 'unsupported';

export interface ArchiveEntry {
  /** The name as the archive writes it (decoded from UTF-8). */
  name: string;
  kind: ArchiveEntryKind;
  /** What a special or unsupported entry is ('fifo', 'character device', 'sparse file', …). */
  detail?: string;
  /** The owner's execute bit is set. */
  executable: boolean;
  /** The size the headers claim; the bytes read are counted on their own. */
  declaredSize: number;
  /** A symbolic or hard link's target. */
  linkTarget?: string;
  /** The entry's decompressed content, for a file. Read once, before the next entry is asked for; unread content is skipped. */
  content(): AsyncIterable<Buffer>;
}
