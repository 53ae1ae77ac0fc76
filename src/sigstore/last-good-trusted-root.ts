import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { parseTrustedRoot } from './trusted-root';

/**
 * The last trusted root fetched through TUF, kept on disk so that a start without the TUF mirror still
 * has it. The file is a plain `trusted_root.json` (an operator pre-seeds it by copying one there); its
 * modification time is when it was fetched. It is replaced atomically (temp file, fsync, rename, fsync of
 * the directory): a crash mid-write leaves the previous copy and a temp file that is never read.
 */
export class LastGoodTrustedRoot {
  constructor(readonly file: string) {}

  /** The copy on disk with its fetch time; throws (naming the file, not its directory) when missing or invalid. */
  async read(): Promise<{ root: TrustedRoot; fetchedAt: Date }> {
    const name = basename(this.file);
    let text: string;
    let fetchedAt: Date;
    try {
      [text, fetchedAt] = await Promise.all([readFile(this.file, 'utf8'), stat(this.file).then((s) => s.mtime)]);
    } catch (error) {
      throw new Error(`cannot read ${name}: ${(error as NodeJS.ErrnoException).code ?? 'unknown error'}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new Error(`${name} is not JSON: ${(error as Error).message}`);
    }
    return { root: parseTrustedRoot(json), fetchedAt };
  }

  /** Replaces the copy with `json`, its modification time set to `fetchedAt`. */
  async write(json: unknown, fetchedAt: Date): Promise<void> {
    const directory = dirname(this.file);
    await mkdir(directory, { recursive: true });
    await this.removeLeftovers();
    const temp = `${this.file}${TEMP_SUFFIX}${process.pid}-${randomBytes(4).toString('hex')}`;
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(`${JSON.stringify(json, null, 2)}\n`);
      await handle.utimes(fetchedAt, fetchedAt);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    await handle.close();
    try {
      await rename(temp, this.file);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    // The rename is durable once the directory entry is: without this a power loss may undo it.
    const dir = await open(directory, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /**
   * Temp files of writes that did not finish (a crash): never read, removed at a later write once they
   * are a minute old (a younger one may be another process's write under way, sharing DATA_DIR).
   */
  private async removeLeftovers(): Promise<void> {
    const directory = dirname(this.file);
    const prefix = `${basename(this.file)}${TEMP_SUFFIX}`;
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
          if (changed !== undefined && Date.now() - changed > LEFTOVER_AGE_MS) await unlink(path).catch(() => undefined);
        }),
    );
  }
}

const TEMP_SUFFIX = '.tmp-';
const LEFTOVER_AGE_MS = 60_000;
