import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface WriteOptions {
  /** File mode of a newly written file (default 0o644). */
  readonly mode?: number;
}

/**
 * Writes a file so that readers see either the old or the new content, never a torn one: the data goes
 * to a temporary file in the same directory, is flushed, then renamed over the target.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, options: WriteOptions = {}): Promise<void> {
  const tmp = await writeTemporary(file, data, options.mode ?? 0o644);
  try {
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
}

/**
 * Creates a file only when it does not exist yet, atomically (hard link of a flushed temporary file).
 * Returns false when another writer created it first; the existing content is then left untouched.
 */
export async function createFileExclusive(file: string, data: string | Buffer, options: WriteOptions = {}): Promise<boolean> {
  const tmp = await writeTemporary(file, data, options.mode ?? 0o644);
  try {
    await link(tmp, file);
    return true;
  } catch (error) {
    if (isErrnoException(error) && error.code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Reads a file, or returns undefined when it does not exist. */
export async function readFileIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (error) {
    if (isErrnoException(error) && error.code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Duck-typed on purpose: errors from Node's core are not `instanceof Error` inside Jest's sandbox. */
export function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return typeof error === 'object' && error !== null && typeof (error as NodeJS.ErrnoException).code === 'string';
}

async function writeTemporary(file: string, data: string | Buffer, mode: number): Promise<string> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return tmp;
}
