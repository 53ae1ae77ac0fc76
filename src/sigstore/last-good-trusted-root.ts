import { mkdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { removeStaleTemporaries, writeFileAtomic } from '../common/atomic-file';
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

  /**
   * Replaces the copy with `json`, its modification time set to `fetchedAt`; first removes the temp
   * files of writes a crash interrupted once they are a minute old (a younger one may be another
   * process's write under way, sharing DATA_DIR).
   */
  async write(json: unknown, fetchedAt: Date): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    await removeStaleTemporaries(this.file, LEFTOVER_AGE_MS);
    await writeFileAtomic(this.file, `${JSON.stringify(json, null, 2)}\n`, { mtime: fetchedAt, durable: true });
  }
}

const LEFTOVER_AGE_MS = 60_000;
