import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface WriteOptions {
  /** File mode of a newly written file (default 0o644). */
  readonly mode?: number;
  /** Modification (and access) time of the new file: what it says about its content, e.g. when it was fetched. */
  readonly mtime?: Date;
  /** Also flush the directory after the rename, so that a power loss cannot undo the replacement. */
  readonly durable?: boolean;
}

/**
 * Writes a file so that readers see either the old or the new content, never a torn one: the data goes
 * to a temporary file in the same directory, is flushed, then renamed over the target.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, options: WriteOptions = {}): Promise<void> {
  const tmp = await writeTemporary(file, data, options);
  try {
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  if (!options.durable) return;
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Removes the temporary files of writes to `file` that did not finish (a crash) and are older than
 * `olderThanMs`; a younger one may be another process's write under way.
 */
export async function removeStaleTemporaries(file: string, olderThanMs: number): Promise<void> {
  const directory = dirname(file);
  const prefix = `${basename(file)}${TEMP_SUFFIX}`;
  const names = await readdir(directory).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((name) => name.startsWith(prefix))
      .map(async (name) => {
        const path = join(directory, name);
        const changed = await stat(path).then(
          (s) => s.ctimeMs,
          () => undefined,
        );
        if (changed !== undefined && Date.now() - changed > olderThanMs) await unlink(path).catch(() => undefined);
      }),
  );
}

/**
 * Creates a file only when it does not exist yet, atomically (hard link of a flushed temporary file).
 * Returns false when another writer created it first; the existing content is then left untouched.
 */
export async function createFileExclusive(file: string, data: string | Buffer, options: WriteOptions = {}): Promise<boolean> {
  const tmp = await writeTemporary(file, data, options);
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

/** Temporary files are named `<file>.tmp-<pid>-<random>`, beside the file (a rename never crosses a file system). */
const TEMP_SUFFIX = '.tmp-';

async function writeTemporary(file: string, data: string | Buffer, options: WriteOptions): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}${TEMP_SUFFIX}${process.pid}-${randomBytes(6).toString('hex')}`;
  const handle = await open(tmp, 'wx', options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    if (options.mtime) await handle.utimes(options.mtime, options.mtime);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return tmp;
}
