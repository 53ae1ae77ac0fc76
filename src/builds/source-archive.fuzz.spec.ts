import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { fuzzParameters, mutatedBytes } from '../../test/support/fuzz';
import { rawZip, tarBytes, zipBytes } from '../../test/support/source-archives';
import { SOURCE_ARCHIVE_ERROR_CODES, SourceArchiveError } from './source-archive-errors';
import { detectArchiveFormat, inspectSourceArchive, type SourceArchiveFormat, type SourceArchiveLimits, unpackSourceArchive } from './source-archive';

/**
 * Property-based fuzzing of source archives: arbitrary bytes and damaged valid archives (the gzip, the
 * tar inside it, the zip) are unpacked; every outcome is a summary or a SourceArchiveError with one of
 * the ARCHIVE_* codes, the dry run agrees with the unpacking, and nothing is ever written outside the
 * destination: its parent is unchanged, and every link in an unpacked tree resolves inside it.
 */
const LIMITS: SourceArchiveLimits = { maxArchiveBytes: 1024 * 1024, maxUnpackedBytes: 4 * 1024 * 1024, maxFiles: 200, maxCompressionRatio: 100, maxDepth: 16 };
const CODES = new Set<string>(Object.keys(SOURCE_ARCHIVE_ERROR_CODES));

let root: string;
let valid: { tar: Buffer; tarGz: Buffer; zip: Buffer; rawZip: Buffer };
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'wasm-signer-archive-fuzz-'));
  const tar = await tarBytes([
    { name: 'proj/', type: 'directory' },
    { name: 'proj/Cargo.toml', content: '[package]\nname = "fuzz"\n' },
    { name: 'proj/src/lib.rs', content: 'pub fn f() {}\n'.repeat(20) },
    { name: 'proj/run.sh', content: '#!/bin/sh\n', mode: 0o755 },
    { name: 'proj/lib-link.rs', type: 'symlink', linkname: 'src/lib.rs' },
    { name: `proj/${'long-name-'.repeat(12)}.txt`, content: 'a name over 100 bytes takes a PAX header' },
  ]);
  valid = {
    tar,
    tarGz: gzipSync(tar),
    zip: await zipBytes([
      { name: 'package.json', content: '{"name":"fuzz"}' },
      { name: 'src/', directory: true },
      { name: 'src/index.js', content: 'export const x = 1;\n'.repeat(20) },
      { name: 'bin/run', content: '#!/bin/sh\n', mode: 0o100755, compress: false },
      { name: 'index.js', content: 'src/index.js', mode: 0o120777 },
    ]),
    rawZip: rawZip([
      { name: 'a.txt', content: 'stored' },
      { name: 'b/c.txt', content: 'deflated '.repeat(30), deflate: true },
      { name: 'link', content: 'b/c.txt', unixMode: 0o120777 },
    ]),
  };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Outcome = { summary: unknown } | { code: string };

async function outcomeOf(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { summary: await run() };
  } catch (error) {
    if (!(error instanceof SourceArchiveError) || !CODES.has(error.code)) {
      throw new Error(`threw something other than an ARCHIVE_* SourceArchiveError: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, {
        cause: error,
      });
    }
    return { code: error.code };
  }
}

/** Every path under `directory`, and the real path of each link that resolves: none may lie outside. */
function expectContained(directory: string): void {
  const real = realpathSync(directory);
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const stats = lstatSync(path);
      if (stats.isSymbolicLink()) {
        if (existsSync(path)) expect(relative(real, realpathSync(path)).startsWith('..')).toBe(false);
      } else if (stats.isDirectory()) {
        walk(path);
      } else {
        expect(stats.isFile()).toBe(true);
        expect(stats.mode & 0o7022).toBe(0);
      }
    }
  };
  walk(directory);
}

/** Far above a normal run (a few ms): it catches an archive that makes reading hang or run away. */
const MAX_RUN_MS = 3_000;

function bounded<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish within ${MAX_RUN_MS} ms`)), MAX_RUN_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

let run = 0;
async function unpackChecked(bytes: Uint8Array, fallback: SourceArchiveFormat): Promise<void> {
  const work = join(root, `run-${run++}`);
  const dest = join(work, 'dest');
  mkdirSync(dest, { recursive: true });
  writeFileSync(join(work, 'sentinel'), 'untouched');
  const archive = join(work, 'archive');
  writeFileSync(archive, bytes);
  try {
    const format = detectArchiveFormat(Buffer.from(bytes.subarray(0, 8))) ?? fallback;
    const inspected = await bounded(outcomeOf(() => inspectSourceArchive(archive, format, LIMITS)));
    const unpacked = await bounded(outcomeOf(() => unpackSourceArchive(archive, format, dest, LIMITS)));
    expect(unpacked).toEqual(inspected);
    expect(readdirSync(work).sort()).toEqual(['archive', 'dest', 'sentinel']);
    expect(readFileSync(join(work, 'sentinel'), 'utf8')).toBe('untouched');
    if ('code' in unpacked) expect(readdirSync(dest)).toEqual([]);
    else expectContained(dest);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const format = fc.constantFrom<SourceArchiveFormat>('tar.gz', 'zip');

/** Offsets of the header blocks of a tar (ustar, no PAX or GNU long names handled specially: they are headers too). */
function tarHeaderOffsets(tar: Buffer): number[] {
  const offsets: number[] = [];
  for (let offset = 0; offset + 512 <= tar.length && tar[offset] !== 0;) {
    offsets.push(offset);
    const size = parseInt(
      tar
        .subarray(offset + 124, offset + 136)
        .toString('latin1')
        .replace(/\0.*$/s, '')
        .trim() || '0',
      8,
    );
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return offsets;
}

/** Header fields a mutation writes into: name, mode, size, type flag, link name, prefix. */
const TAR_FIELDS = [
  [0, 100],
  [100, 8],
  [124, 12],
  [156, 1],
  [157, 100],
  [345, 155],
] as const;
const FIELD_BYTES = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 12 }),
  fc.constantFrom(
    ...['..', '/', '../', '/etc/passwd', '.', 'a/', '5', '2', '1', '3', '6', 'S', 'x', 'L', '7777777', '77777777777', '\\', 'C:'].map((t) => Uint8Array.from(Buffer.from(t))),
  ),
);

/** The valid tar with header fields overwritten and checksums recomputed: reaches the checks behind the checksum. */
function tarWithHeaderEdits(tar: Buffer): fc.Arbitrary<Uint8Array> {
  const offsets = tarHeaderOffsets(tar);
  const edit = fc.record({
    header: fc.nat(offsets.length - 1),
    field: fc.nat(TAR_FIELDS.length - 1),
    at: fc.oneof(fc.nat(6), fc.nat(99)),
    bytes: FIELD_BYTES,
    terminate: fc.boolean(),
  });
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    const copy = Buffer.from(tar);
    for (const { header, field, at, bytes, terminate } of edits) {
      const [start, length] = TAR_FIELDS[field]!;
      const base = offsets[header]! + start;
      const from = Math.min(at, length - 1);
      const piece = Buffer.from(bytes).subarray(0, length - from);
      piece.copy(copy, base + from);
      if (terminate && from + piece.length < length) copy[base + from + piece.length] = 0;
      const block = copy.subarray(offsets[header]!, offsets[header]! + 512);
      block.fill(0x20, 148, 156);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += block[i]!;
      block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    }
    return new Uint8Array(gzipSync(copy));
  });
}

/** Where a zip's central records keep each entry's name (and the local header's copy) and external attributes. */
function zipNameFields(zip: Buffer): { central: number; local: number; length: number; attributes: number }[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const fields = [];
  for (let offset = zip.readUInt32LE(end + 16); zip.readUInt32LE(offset) === 0x02014b50;) {
    const length = zip.readUInt16LE(offset + 28);
    const local = zip.readUInt32LE(offset + 42);
    fields.push({ central: offset + 46, local: local + 30, length, attributes: offset + 38 });
    offset += 46 + length + zip.readUInt16LE(offset + 30) + zip.readUInt16LE(offset + 32);
  }
  return fields;
}

/** The valid zip with names changed the same way in both headers, or file modes changed: reaches the checks behind the consistency checks. */
function zipWithHeaderEdits(zip: Buffer): fc.Arbitrary<Uint8Array> {
  const fields = zipNameFields(zip);
  const edit = fc.record({
    entry: fc.nat(fields.length - 1),
    at: fc.oneof(fc.nat(4), fc.nat(40)),
    bytes: FIELD_BYTES,
    mode: fc.option(fc.constantFrom(0o120777, 0o010644, 0o040755, 0o104755, 0o020644, 0o100755), { nil: undefined }),
  });
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
    const copy = Buffer.from(zip);
    for (const { entry, at, bytes, mode } of edits) {
      const field = fields[entry]!;
      const from = Math.min(at, field.length - 1);
      const piece = Buffer.from(bytes).subarray(0, field.length - from);
      piece.copy(copy, field.central + from);
      piece.copy(copy, field.local + from);
      if (mode !== undefined) copy.writeUInt32LE((mode << 16) >>> 0, field.attributes);
    }
    return new Uint8Array(copy);
  });
}

describe('source archives under fuzzing', () => {
  it('unpacks or refuses arbitrary bytes, with or without a gzip or zip magic number', async () => {
    const magic = fc.constantFrom([], [0x1f, 0x8b, 0x08, 0x00], [0x50, 0x4b, 0x03, 0x04], [0x50, 0x4b, 0x05, 0x06]);
    const bytes = fc.tuple(magic, fc.uint8Array({ maxLength: 2048 })).map(([head, rest]) => Uint8Array.from([...head, ...rest]));
    await fc.assert(
      fc.asyncProperty(bytes, format, (b, f) => unpackChecked(b, f)),
      fuzzParameters(300),
    );
  });

  it('unpacks or refuses damaged tar.gz archives (the gzip damaged, the tar inside it, or its header fields with valid checksums)', async () => {
    const damagedGzip = fc.constant(null).chain(() => mutatedBytes(valid.tarGz));
    const damagedTar = fc.constant(null).chain(() => mutatedBytes(valid.tar).map((tar) => new Uint8Array(gzipSync(tar))));
    const editedHeaders = fc.constant(null).chain(() => tarWithHeaderEdits(valid.tar));
    await fc.assert(
      fc.asyncProperty(fc.oneof(damagedGzip, damagedTar, editedHeaders, editedHeaders), (b) => unpackChecked(b, 'tar.gz')),
      fuzzParameters(400),
    );
  });

  it('unpacks or refuses damaged zip archives, also with names and modes changed consistently', async () => {
    const damaged = fc.constantFrom('zip' as const, 'rawZip' as const).chain((which) => mutatedBytes(valid[which]));
    const editedHeaders = fc.constantFrom('zip' as const, 'rawZip' as const).chain((which) => zipWithHeaderEdits(valid[which]));
    await fc.assert(
      fc.asyncProperty(fc.oneof(damaged, editedHeaders), (b) => unpackChecked(b, 'zip')),
      fuzzParameters(400),
    );
  });

  it('unpacks the undamaged archives', async () => {
    for (const [bytes, f] of [
      [valid.tarGz, 'tar.gz'],
      [valid.zip, 'zip'],
      [valid.rawZip, 'zip'],
    ] as const) {
      const dest = join(root, `valid-${f}-${run++}`);
      mkdirSync(dest);
      writeFileSync(`${dest}.archive`, bytes);
      expect(await unpackSourceArchive(`${dest}.archive`, f, dest, LIMITS)).toMatchObject({ format: f, symlinks: 1 });
    }
  });
});
