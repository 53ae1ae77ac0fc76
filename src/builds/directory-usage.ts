import type { Dirent } from 'node:fs';
import { chmod, lchown, lstat, readdir, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';

/**
 * Disk use of a directory tree a build writes, and the walks that hand such a tree over or take it back.
 * Never follows a symbolic link: a build may leave links to anywhere.
 */

/** Every entry counts at least this much, so that a million empty files cost what their inodes cost. */
export const MIN_ENTRY_BYTES = 4096;

export interface DirectoryUsage {
  bytes: number;
  entries: number;
  /** Size of the largest regular file. */
  largestFileBytes: number;
  /** The walk stopped early because `bytes` already passed the `stopAbove` it was given. */
  stoppedEarly: boolean;
}

/**
 * Lists a directory; one the worker may not read (a build made it mode 000) is given back owner rwx
 * first. The worker owns everything a build writes: as root, or as the user the sandbox's uid maps to.
 */
async function entriesOf(dir: string, root: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
    // The build runs while we walk: a directory it swapped for a link to somewhere else is not ours to
    // change. Checked just before the chmod (chmod follows links; Linux has no lchmod).
    const real = await realpath(dir);
    if (real !== root && !real.startsWith(`${root}${sep}`)) throw Object.assign(new Error(`${dir} left the tree`), { code: 'ENOTDIR' });
    await chmod(real, 0o700);
    return readdir(real, { withFileTypes: true });
  }
}

function ignoreVanished(error: unknown): void {
  // The build runs while we walk: entries come and go.
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
}

/** Allocated bytes (st_blocks, so sparse files count what they hold) of a tree, each entry at least MIN_ENTRY_BYTES. */
export async function measureDirectory(root: string, stopAbove = Number.POSITIVE_INFINITY): Promise<DirectoryUsage> {
  const usage: DirectoryUsage = { bytes: 0, entries: 0, largestFileBytes: 0, stoppedEarly: false };
  const realRoot = await realpath(root);
  const pending = [root];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    let entries: Dirent[];
    try {
      entries = await entriesOf(dir, realRoot);
    } catch (error) {
      ignoreVanished(error);
      continue;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      try {
        const stats = await lstat(path);
        usage.bytes += Math.max(stats.blocks * 512, MIN_ENTRY_BYTES);
        usage.entries += 1;
        if (stats.isFile()) usage.largestFileBytes = Math.max(usage.largestFileBytes, stats.size);
      } catch (error) {
        ignoreVanished(error);
        continue;
      }
      if (entry.isDirectory()) pending.push(path);
      if (usage.bytes > stopAbove) return { ...usage, stoppedEarly: true };
    }
  }
  return usage;
}

/** Gives a tree to uid:gid (lchown of every entry, links included, targets untouched). */
export async function chownTree(root: string, uid: number, gid: number): Promise<void> {
  await lchown(root, uid, gid);
  const realRoot = await realpath(root);
  const pending = [root];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    for (const entry of await entriesOf(dir, realRoot)) {
      const path = join(dir, entry.name);
      await lchown(path, uid, gid);
      if (entry.isDirectory()) pending.push(path);
    }
  }
}

/** Gives the owner rwx on every directory of a tree, so that a non-root worker can remove what a build made read-only. */
export async function makeTreeRemovable(root: string): Promise<void> {
  const realRoot = await realpath(root);
  const pending = [root];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    try {
      await chmod(dir, 0o700);
      for (const entry of await entriesOf(dir, realRoot)) if (entry.isDirectory()) pending.push(join(dir, entry.name));
    } catch (error) {
      ignoreVanished(error);
    }
  }
}
