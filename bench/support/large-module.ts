/**
 * A large, valid WebAssembly core module produced as a stream, never held whole: the preamble
 * (`\0asm`, version 1) and one custom section (id 0) whose name is followed by a payload of the
 * requested size. The payload starts with random bytes, so that every module has its own digest and a
 * registry never short-circuits an upload of a blob it already has; the rest repeats one filler chunk.
 */
import { randomBytes } from 'node:crypto';

const PREAMBLE = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
const CUSTOM_SECTION_ID = 0x00;
const SECTION_NAME = Buffer.from('bench.payload');
const UNIQUE_HEAD_BYTES = 32;

export interface LargeModule {
  /** Size of the whole module in bytes. */
  size: number;
  /** The module's bytes, in chunks of at most the filler's size (a fresh iteration each call). */
  chunks(): AsyncGenerator<Buffer>;
}

/** A module of exactly `totalBytes`; `filler` is the chunk repeated after the unique head. */
export function largeCoreModule(totalBytes: number, filler: Buffer): LargeModule {
  const nameLength = unsignedLeb128(SECTION_NAME.length);
  // The section size's own encoding takes room: find the section size whose encoding makes the total exact.
  let sectionSize = totalBytes - PREAMBLE.length - 1;
  while (PREAMBLE.length + 1 + unsignedLeb128(sectionSize).length + sectionSize > totalBytes) sectionSize -= 1;
  const dataBytes = sectionSize - nameLength.length - SECTION_NAME.length;
  if (dataBytes < UNIQUE_HEAD_BYTES || sectionSize > 0xffff_ffff) throw new RangeError(`cannot build a module of ${totalBytes} bytes`);
  const header = Buffer.concat([PREAMBLE, Buffer.from([CUSTOM_SECTION_ID]), unsignedLeb128(sectionSize), nameLength, SECTION_NAME, randomBytes(UNIQUE_HEAD_BYTES)]);
  const size = header.length + dataBytes - UNIQUE_HEAD_BYTES;
  if (size !== totalBytes) throw new RangeError(`module size ${size} ≠ ${totalBytes}`);

  return {
    size,
    async *chunks() {
      yield header;
      for (let left = dataBytes - UNIQUE_HEAD_BYTES; left > 0; left -= filler.length) {
        yield left >= filler.length ? filler : filler.subarray(0, left);
      }
    },
  };
}

export function unsignedLeb128(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  do {
    let byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    bytes.push(byte);
  } while (rest > 0);
  return Buffer.from(bytes);
}
