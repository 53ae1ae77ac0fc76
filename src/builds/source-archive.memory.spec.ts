import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ZipFile } from 'yazl';
import { repeatedBytes, writeTarGz } from '../../test/support/source-archives';
import { inspectSourceArchive, type SourceArchiveFormat, type SourceArchiveSummary, unpackSourceArchive } from './source-archive';

/**
 * Unpacking streams: memory does not grow with the archive. A 64 MiB archive (random data that gzip
 * cannot shrink: a 1 MiB random block repeated, farther apart than deflate's 32 KiB window) and a
 * compressible one that inflates to 128 MiB are unpacked while the process's RSS is sampled; the growth
 * over the RSS before must stay far below the archive's size (a reader holding the archive, or an entry,
 * in memory would grow by at least that much). Own file, so that no other test shares the process.
 */
const MiB = 1024 * 1024;
const LIMITS = { maxArchiveBytes: 128 * MiB, maxUnpackedBytes: 512 * MiB, maxFiles: 100, maxCompressionRatio: 1000 };
/** Generous: streaming needs a few MiB of buffers; V8 may keep some garbage around between collections. */
const MAX_RSS_GROWTH = 64 * MiB;

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'wasm-signer-archive-memory-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `task` while sampling RSS every few milliseconds; resolves with its result and the largest growth seen. */
async function withRssGrowth<T>(task: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  try {
    const result = await task();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, growth: peak - before };
  } finally {
    clearInterval(sampler);
  }
}

async function unpackMeasured(archive: string, format: SourceArchiveFormat, name: string): Promise<{ summary: SourceArchiveSummary; growth: number }> {
  const dest = join(work, name);
  mkdirSync(dest);
  const inspected = await withRssGrowth(() => inspectSourceArchive(archive, format, LIMITS));
  const unpacked = await withRssGrowth(() => unpackSourceArchive(archive, format, dest, LIMITS));
  expect(unpacked.result).toEqual(inspected.result);
  return { summary: unpacked.result, growth: Math.max(inspected.growth, unpacked.growth) };
}

describe('unpacking in bounded memory', () => {
  const randomBlock = randomBytes(MiB);

  it('unpacks a 64 MiB tar.gz with RSS growth well under its size', async () => {
    const archive = join(work, 'random.tar.gz');
    await writeTarGz(archive, [
      { name: 'src/big.bin', size: 60 * MiB, content: () => repeatedBytes(randomBlock, 60 * MiB) },
      { name: 'src/small.txt', size: 4 * MiB, content: () => repeatedBytes(randomBlock.subarray(0, 4096), 4 * MiB) },
    ]);
    expect(statSync(archive).size).toBeGreaterThan(60 * MiB);
    const { summary, growth } = await unpackMeasured(archive, 'tar.gz', 'random-tar');
    expect(summary).toMatchObject({ files: 2, unpackedBytes: 64 * MiB, root: 'src' });
    expect(statSync(join(work, 'random-tar', 'big.bin')).size).toBe(60 * MiB);
    expect(growth).toBeLessThan(MAX_RSS_GROWTH);
  });

  it('unpacks a 64 MiB zip with RSS growth well under its size', async () => {
    const archive = join(work, 'random.zip');
    const zip = new ZipFile();
    zip.addReadStream(repeatedBytes(randomBlock, 64 * MiB), 'big.bin', { compressionLevel: 1, size: 64 * MiB });
    zip.addBuffer(Buffer.from('small'), 'small.txt');
    zip.end();
    await pipeline(zip.outputStream, createWriteStream(archive));
    expect(statSync(archive).size).toBeGreaterThan(64 * MiB);
    const { summary, growth } = await unpackMeasured(archive, 'zip', 'random-zip');
    expect(summary).toMatchObject({ files: 2, unpackedBytes: 64 * MiB + 5 });
    expect(growth).toBeLessThan(MAX_RSS_GROWTH);
  });

  it('unpacks a compressible tar.gz that inflates to 128 MiB with RSS growth well under that', async () => {
    const archive = join(work, 'text.tar.gz');
    const line = Buffer.from('fn main() { println!("a line of source that repeats, so that gzip shrinks it a lot"); }\n');
    await writeTarGz(archive, [{ name: 'main.rs', size: 128 * MiB, content: () => repeatedBytes(Buffer.concat(Array<Buffer>(1000).fill(line)), 128 * MiB) }], 6);
    expect(statSync(archive).size).toBeLessThan(4 * MiB);
    const { summary, growth } = await unpackMeasured(archive, 'tar.gz', 'text-tar');
    expect(summary).toMatchObject({ files: 1, unpackedBytes: 128 * MiB });
    expect(growth).toBeLessThan(MAX_RSS_GROWTH);
  });
});
