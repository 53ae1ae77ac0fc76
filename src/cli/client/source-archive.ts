import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { pack } from 'tar-stream';

/** Directories never sent: version control data. */
const SKIPPED_DIRECTORIES = new Set(['.git']);

/**
 * A directory's regular files and directories as a .tar.gz, in name order, with fixed owners and times
 * (the same tree gives the same archive, so its digest in the build provenance is stable). Symbolic
 * links and special files are left out, each reported to `onSkipped`.
 */
export async function tarGzDirectory(root: string, onSkipped: (path: string) => void): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk) => chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    archive.on('end', resolve);
    archive.on('error', reject);
  });
  const header = (name: string, mode: number) => ({ name, mode, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '' });
  const walk = async (directory: string): Promise<void> => {
    const names = (await readdir(directory)).sort();
    for (const name of names) {
      const path = join(directory, name);
      const entryName = relative(root, path).split(sep).join('/');
      const info = await lstat(path);
      if (info.isDirectory()) {
        if (SKIPPED_DIRECTORIES.has(name)) continue;
        archive.entry({ ...header(`${entryName}/`, 0o755), type: 'directory' });
        await walk(path);
      } else if (info.isFile()) {
        const content = await readFile(path);
        archive.entry({ ...header(entryName, info.mode & 0o111 ? 0o755 : 0o644), type: 'file' }, content);
      } else {
        onSkipped(entryName);
      }
    }
  };
  await walk(root);
  archive.finalize();
  await ended;
  return promisify(gzip)(Buffer.concat(chunks));
}
