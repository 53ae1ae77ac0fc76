import { randomBytes } from 'node:crypto';
import { chown, lstat, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CodedError, errorCodes } from '../common/coded-error';
import { SANDBOX_USER_ID, sandboxHostIdentity } from './build-sandbox';
import { makeTreeRemovable } from './directory-usage';
import { readProcessStat } from './sandbox-processes';

/**
 * A build's private directory: `<base>/<jobId>-<16 hex>/` (mode 0700) holding
 * - owner.json: the pid, process start time and boot id of the worker that made it, so that a worker
 *   starting after a crash can tell its predecessors' leftovers from workspaces still in use;
 * - source/: where the source is unpacked; the sandbox's /build;
 * - output/: where the checked component is copied, out of the build's reach.
 *
 * When the worker runs as root, bwrap runs as the sandbox's host user (see build-sandbox.ts), which must
 * reach source/: the workspace directory and source/ then belong to that user (still mode 0700), and
 * every directory above them must be searchable by it, which createWorkspace checks. A workspace base
 * directory belongs to one worker host: owners are told apart by pid, which means nothing across pid
 * namespaces.
 */

export const WORKSPACE_ERROR_CODES = errorCodes('WORKSPACE_INVALID', 'WORKSPACE_UNREACHABLE');
export type WorkspaceErrorCode = keyof typeof WORKSPACE_ERROR_CODES;

export interface BuildWorkspace {
  path: string;
  /** Where the source is unpacked: the sandbox's /build. */
  sourceDir: string;
  /** Where the built component is kept, outside the sandbox's reach. */
  outputDir: string;
  /** Removes the workspace and everything in it, read-only files and directories included. */
  dispose(): Promise<void>;
}

interface WorkspaceOwner {
  pid: number;
  startTime: number;
  bootId: string;
}

const OWNER_FILE = 'owner.json';
const WORKSPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}-[0-9a-f]{16}$/;
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** A workspace without a readable owner file is left alone this long: its maker may still be writing it. */
export const UNOWNED_GRACE_MS = 10 * 60 * 1000;

async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
}

async function currentOwner(): Promise<WorkspaceOwner> {
  const self = await readProcessStat(process.pid);
  if (self === null) throw new Error('cannot read /proc/self/stat');
  return { pid: process.pid, startTime: self.startTime, bootId: await bootId() };
}

/** When bwrap runs as the sandbox's host user, every directory from / down to `dir` must let it through. */
async function checkReachableBySandbox(dir: string): Promise<void> {
  const chain: string[] = [];
  for (let current = resolve(dir); ; current = dirname(current)) {
    chain.unshift(current);
    if (dirname(current) === current) break;
  }
  for (const path of chain) {
    const stats = await stat(path);
    const searchable = (stats.mode & 0o001) !== 0 || (stats.uid === SANDBOX_USER_ID && (stats.mode & 0o100) !== 0) || (stats.gid === SANDBOX_USER_ID && (stats.mode & 0o010) !== 0);
    if (!searchable) {
      throw new CodedError(
        WORKSPACE_ERROR_CODES.WORKSPACE_UNREACHABLE,
        `the build sandbox's user (uid ${SANDBOX_USER_ID}) cannot search ${path} (mode ${(stats.mode & 0o777).toString(8)}), on the way to the workspace directory ${dir}: make it searchable by others (o+x) or choose another directory`,
      );
    }
  }
}

async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch {
    // A non-root worker cannot empty a directory the build made read-only until it is writable again.
    await makeTreeRemovable(path);
    await rm(path, { recursive: true, force: true });
  }
}

export async function createWorkspace(baseDir: string, jobId: string): Promise<BuildWorkspace> {
  if (!JOB_ID.test(jobId)) throw new CodedError(WORKSPACE_ERROR_CODES.WORKSPACE_INVALID, `jobId ${JSON.stringify(jobId)} is not usable in a directory name`);
  await mkdir(baseDir, { recursive: true, mode: 0o711 });
  const identity = sandboxHostIdentity();
  if (identity !== null) await checkReachableBySandbox(baseDir);
  const path = join(resolve(baseDir), `${jobId}-${randomBytes(8).toString('hex')}`);
  await mkdir(path, { mode: 0o700 });
  try {
    await writeFile(join(path, OWNER_FILE), JSON.stringify(await currentOwner()), { mode: 0o600, flag: 'wx' });
    const sourceDir = join(path, 'source');
    const outputDir = join(path, 'output');
    await mkdir(sourceDir, { mode: 0o700 });
    await mkdir(outputDir, { mode: 0o700 });
    if (identity !== null) {
      await chown(path, identity.uid, identity.gid);
      await chown(sourceDir, identity.uid, identity.gid);
    }
    return { path, sourceDir, outputDir, dispose: () => removeTree(path) };
  } catch (error) {
    await removeTree(path);
    throw error;
  }
}

async function readOwner(workspace: string): Promise<WorkspaceOwner | null> {
  try {
    const file = join(workspace, OWNER_FILE);
    if (!(await lstat(file)).isFile()) return null;
    const owner = JSON.parse(await readFile(file, 'utf8')) as Partial<WorkspaceOwner>;
    if (!Number.isInteger(owner.pid) || !Number.isInteger(owner.startTime) || typeof owner.bootId !== 'string') return null;
    return owner as WorkspaceOwner;
  } catch {
    return null;
  }
}

async function isStale(workspace: string, currentBoot: string): Promise<boolean> {
  const owner = await readOwner(workspace);
  if (owner === null) return Date.now() - (await lstat(workspace)).mtimeMs > UNOWNED_GRACE_MS;
  if (owner.bootId !== currentBoot) return true;
  const ownerProcess = await readProcessStat(owner.pid);
  return ownerProcess === null || ownerProcess.startTime !== owner.startTime || ownerProcess.state === 'Z';
}

/** Removes the workspaces under `baseDir` whose owner process is gone (after a worker crash); returns their paths. */
export async function sweepStaleWorkspaces(baseDir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(baseDir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const currentBoot = await bootId();
  const removed: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || !WORKSPACE_NAME.test(entry.name)) continue;
    const workspace = join(resolve(baseDir), entry.name);
    try {
      if (!(await isStale(workspace, currentBoot))) continue;
      await removeTree(workspace);
      removed.push(workspace);
    } catch (error) {
      // Another worker swept it first.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return removed;
}
