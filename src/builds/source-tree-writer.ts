import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, type FileHandle, mkdir, open, readdir, realpath, rename, rm, rmdir, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';

const CREATE_NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Writes an unpacked source tree into an existing, empty directory, on behalf of the archive reader
 * that has already checked each path (relative, no `..`, not under a file or a link). Whatever the
 * archive says, files are created new (O_EXCL: never over something that exists; O_NOFOLLOW: never
 * through a link) with mode 0644, or 0755 when the owner could execute them, and directories with 0755
 * (no setuid, setgid, sticky or group/other write bits; umask does not matter, modes are set after
 * creation); timestamps and owners are not restored. Links are created last, once every file exists and
 * every link has been checked, so no file is ever written through one.
 */
export class SourceTreeWriter {
  private constructor(private readonly root: string) {}

  /** A writer into `directory`, which must exist and be empty (the caller makes a fresh one per build). */
  static async open(directory: string): Promise<SourceTreeWriter> {
    const root = await realpath(directory);
    if (!(await stat(root)).isDirectory()) throw new Error(`${directory} is not a directory`);
    if ((await readdir(root)).length > 0) throw new Error(`${directory} is not empty; sources unpack into a fresh directory`);
    return new SourceTreeWriter(root);
  }

  private pathOf(path: string): string {
    return join(this.root, ...path.split('/'));
  }

  async createDirectories(paths: readonly string[]): Promise<void> {
    for (const path of paths) {
      await mkdir(this.pathOf(path), { mode: 0o755 });
      await chmod(this.pathOf(path), 0o755);
    }
  }

  /** A new file at `path`, open for writing; the caller writes it and closes it with `closeFile`. */
  async createFile(path: string): Promise<FileHandle> {
    return open(this.pathOf(path), CREATE_NEW_FILE, 0o600);
  }

  static async write(handle: FileHandle, chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length;) offset += (await handle.write(chunk, offset)).bytesWritten;
  }

  static async closeFile(handle: FileHandle, executable: boolean): Promise<void> {
    try {
      await handle.chmod(executable ? 0o755 : 0o644);
    } finally {
      await handle.close();
    }
  }

  /**
   * Completes the tree: moves the contents of `strippedRoot` (when given) up to the top and removes it,
   * then creates the links (paths relative to the final top).
   */
  async finish(strippedRoot: string | undefined, links: readonly { path: string; target: string }[]): Promise<void> {
    if (strippedRoot !== undefined) {
      const children = await readdir(this.pathOf(strippedRoot));
      const holdingName = () => `.unpacking-${randomBytes(6).toString('hex')}`;
      let holding = holdingName();
      while (children.includes(holding)) holding = holdingName();
      // Renamed first, so that a child with the root's own name can move up.
      await rename(this.pathOf(strippedRoot), join(this.root, holding));
      for (const child of children) await rename(join(this.root, holding, child), join(this.root, child));
      await rmdir(join(this.root, holding));
    }
    for (const link of links) await symlink(link.target, this.pathOf(link.path));
  }

  /** Removes everything written so far (after a refusal part-way); the directory itself stays, it is the caller's. */
  async clear(): Promise<void> {
    for (const child of await readdir(this.root)) await rm(join(this.root, child), { recursive: true, force: true });
  }
}
