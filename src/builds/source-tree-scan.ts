import type { Dirent } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { SourceNode } from './source-links';

/**
 * A directory tree as source-links.ts describes it (paths relative to `root`, `/`-separated), read
 * without following any link, and the bytes of its regular files. `skip` leaves out a top-level name
 * (such as `.git`). Iterative, so that a deep tree does not exhaust the stack.
 */
export async function scanSourceTree(root: string, skip: readonly string[] = []): Promise<{ nodes: Map<string, SourceNode>; bytes: number }> {
  const nodes = new Map<string, SourceNode>();
  let bytes = 0;
  const pending = [''];
  while (pending.length > 0) {
    const directory = pending.pop()!;
    for (const entry of await readdir(join(root, directory), { withFileTypes: true })) {
      if (directory === '' && skip.includes(entry.name)) continue;
      const path = directory === '' ? entry.name : `${directory}/${entry.name}`;
      if (entry.isSymbolicLink()) {
        nodes.set(path, { kind: 'symlink', target: await readlink(join(root, path)) });
      } else if (entry.isDirectory()) {
        nodes.set(path, { kind: 'directory' });
        pending.push(path);
      } else {
        nodes.set(path, { kind: 'file' });
        bytes += (await lstat(join(root, path))).size;
      }
    }
  }
  return { nodes, bytes };
}

/** Bytes of everything under `root` (file sizes), for watching a directory that another process is writing: entries that vanish meanwhile are skipped. */
export async function directoryBytes(root: string): Promise<number> {
  let bytes = 0;
  const pending = [root];
  while (pending.length > 0) {
    const directory = pending.pop()!;
    let entries: Dirent[];
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile())
        bytes += await lstat(path).then(
          (stats) => stats.size,
          () => 0,
        );
    }
  }
  return bytes;
}
