import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, crc32, createGzip, deflateRawSync, gzipSync } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { ZipFile } from 'yazl';

/**
 * Source archives for tests, valid and hostile, built in the test that uses them: tar.gz through
 * tar-stream, zip through yazl, and raw bytes (tar headers, zip records, deflate streams) where a library
 * refuses to write such a thing (`..` names, lying sizes, fifos in a zip).
 */

export interface TarEntrySpec {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device' | 'block-device' | 'contiguous-file';
  content?: string | Buffer;
  mode?: number;
  linkname?: string;
  /** PAX records written before the entry (tar-stream writes `path` and `linkpath` with them). */
  pax?: Record<string, string>;
}

/** The tar (uncompressed) bytes of `entries`, as tar-stream writes them. */
export async function tarBytes(entries: readonly TarEntrySpec[]): Promise<Buffer> {
  const pack = tarPack();
  for (const { name, type = 'file', content, mode, linkname, pax } of entries) {
    const header = { name, type, mode, linkname, pax, mtime: new Date(0) };
    if (type === 'file' || type === 'contiguous-file') pack.entry(header, content ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export async function tarGzBytes(entries: readonly TarEntrySpec[]): Promise<Buffer> {
  return gzipSync(await tarBytes(entries));
}

/** One raw ustar header block (512 bytes) with any type flag, name bytes or size field, checksum computed. */
export function tarHeader(fields: { name: string | Buffer; typeflag: string; size?: number; sizeField?: Buffer; mode?: number; linkname?: string | Buffer }): Buffer {
  const block = Buffer.alloc(512);
  Buffer.from(fields.name).copy(block, 0, 0, 100);
  block.write(`${(fields.mode ?? 0o644).toString(8).padStart(7, '0')}\0`, 100, 'latin1');
  block.write('0000000\0', 108, 'latin1');
  block.write('0000000\0', 116, 'latin1');
  block.write(`${(fields.size ?? 0).toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  if (fields.sizeField) fields.sizeField.copy(block, 124, 0, 12);
  block.write('00000000000\0', 136, 'latin1');
  block.write(fields.typeflag, 156, 'latin1');
  if (fields.linkname !== undefined) Buffer.from(fields.linkname).copy(block, 157, 0, 100);
  block.write('ustar\0' + '00', 257, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < block.length; i++) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

/** File data padded to whole 512-byte blocks, as it follows its header in a tar. */
export function tarData(content: string | Buffer): Buffer {
  const data = Buffer.from(content);
  return Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

/** A tar from raw blocks, with the end-of-archive marker. */
export function rawTar(blocks: readonly Buffer[]): Buffer {
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

export interface ZipEntrySpec {
  name: string;
  content?: string | Buffer;
  /** Unix mode with type bits; a link is `0o120777` with its target as content. */
  mode?: number;
  directory?: boolean;
  compress?: boolean;
}

/** A zip written by yazl (names are checked by yazl: no `..`, no absolute paths). */
export async function zipBytes(entries: readonly ZipEntrySpec[]): Promise<Buffer> {
  const zip = new ZipFile();
  for (const { name, content, mode, directory, compress } of entries) {
    if (directory) zip.addEmptyDirectory(name, { mtime: new Date(0), mode: mode ?? 0o40755 });
    else zip.addBuffer(Buffer.from(content ?? ''), name, { mtime: new Date(0), mode: mode ?? 0o100644, compress: compress ?? true });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export interface RawZipEntry {
  name: string | Buffer;
  /** Stored as is (method 0), or deflated when `deflate` is set. */
  content?: string | Buffer;
  deflate?: boolean;
  /** Already-deflated data, with the size and CRC-32 of what it inflates to. */
  deflated?: { data: Buffer; size: number; crc: number };
  /** Unix mode with type bits: the entry is then "made by" Unix. */
  unixMode?: number;
  /** General purpose flags (default: bit 11, UTF-8 names). */
  flags?: number;
  method?: number;
  /** Values the central directory states instead of the true ones. */
  central?: { name?: string | Buffer; size?: number; compressedSize?: number; crc?: number; offset?: number };
  /** Values the local header states instead of the true ones. */
  local?: { name?: string | Buffer; size?: number; compressedSize?: number; crc?: number; method?: number };
}

/** A zip built record by record, so that it can lie where a zip writer would not. */
export function rawZip(entries: readonly RawZipEntry[], options: { trailing?: Buffer } = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const content = Buffer.from(entry.content ?? '');
    const data = entry.deflated?.data ?? (entry.deflate ? deflateRawSync(content) : content);
    const size = entry.deflated?.size ?? content.length;
    const crc = entry.deflated?.crc ?? crc32(content);
    const method = entry.method ?? (entry.deflated || entry.deflate ? 8 : 0);
    const flags = entry.flags ?? 0x800;
    const name = Buffer.from(entry.name);
    const localName = Buffer.from(entry.local?.name ?? name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(entry.local?.method ?? method, 8);
    local.writeUInt32LE(entry.local?.crc ?? crc, 14);
    local.writeUInt32LE(entry.local?.compressedSize ?? data.length, 18);
    local.writeUInt32LE(entry.local?.size ?? size, 22);
    local.writeUInt16LE(localName.length, 26);
    parts.push(local, localName, data);
    const centralName = Buffer.from(entry.central?.name ?? name);
    const record = Buffer.alloc(46);
    record.writeUInt32LE(0x02014b50, 0);
    record.writeUInt16LE(entry.unixMode === undefined ? 20 : (3 << 8) | 20, 4);
    record.writeUInt16LE(20, 6);
    record.writeUInt16LE(flags, 8);
    record.writeUInt16LE(method, 10);
    record.writeUInt32LE(entry.central?.crc ?? crc, 16);
    record.writeUInt32LE(entry.central?.compressedSize ?? data.length, 20);
    record.writeUInt32LE(entry.central?.size ?? size, 24);
    record.writeUInt16LE(centralName.length, 28);
    record.writeUInt32LE(entry.unixMode === undefined ? 0 : (entry.unixMode << 16) >>> 0, 38);
    record.writeUInt32LE(entry.central?.offset ?? offset, 42);
    central.push(record, centralName);
    offset += local.length + localName.length + data.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, directory, end, options.trailing ?? Buffer.alloc(0)]);
}

/**
 * Raw deflate data that inflates to `prefix` then `mebibytes` MiB of zeros, made in milliseconds: the
 * prefix and one MiB deflated with a full flush (byte-aligned, self-contained runs of blocks), the MiB
 * repeated, then a final empty block.
 */
export function deflatedZeros(mebibytes: number, prefix = Buffer.alloc(0)): { data: Buffer; size: number; crc: number } {
  const mebibyte = Buffer.alloc(1024 * 1024);
  const flushed = (bytes: Buffer) => deflateRawSync(bytes, { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  const block = flushed(mebibyte);
  let crc = crc32(prefix);
  for (let i = 0; i < mebibytes; i++) crc = crc32(mebibyte, crc);
  const finalEmptyBlock = Buffer.from([0x03, 0x00]);
  const data = Buffer.concat([...(prefix.length > 0 ? [flushed(prefix)] : []), ...Array<Buffer>(mebibytes).fill(block), finalEmptyBlock]);
  return { data, size: prefix.length + mebibytes * 1024 * 1024, crc };
}

/** Raw deflate data wrapped as a gzip file (header, data, CRC-32 and size trailer). */
export function gzipOfDeflated({ data, size, crc }: { data: Buffer; size: number; crc: number }): Buffer {
  const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size % 2 ** 32, 4);
  return Buffer.concat([header, data, trailer]);
}

/** Writes a tar.gz of `files` (each a name and a stream of its content of known size) to `path`, in bounded memory. */
export async function writeTarGz(path: string, files: readonly { name: string; size: number; content: () => Readable }[], gzipLevel = 1): Promise<void> {
  const pack = tarPack();
  const written = pipeline(pack, createGzip({ level: gzipLevel }), createWriteStream(path));
  for (const file of files) {
    const sink = pack.entry({ name: file.name, size: file.size, mode: 0o644, mtime: new Date(0) });
    await pipeline(file.content(), sink as unknown as NodeJS.WritableStream);
  }
  pack.finalize();
  await written;
}

/** A stream of `size` bytes made of `chunk` repeated (cut to size). */
export function repeatedBytes(chunk: Buffer, size: number): Readable {
  let left = size;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const piece = chunk.subarray(0, Math.min(chunk.length, left));
      left -= piece.length;
      this.push(piece);
    },
  });
}
