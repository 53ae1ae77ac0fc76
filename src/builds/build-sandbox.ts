import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join, posix } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CodedError, errorCodes } from '../common/coded-error';
import { chownTree, measureDirectory } from './directory-usage';
import { isProcessRunning, measureSandboxProcesses, readProcessStat } from './sandbox-processes';

/**
 * Runs a command we did not write under bubblewrap: its own user, pid, mount, network, IPC, UTS and
 * cgroup namespaces (no further user namespaces inside), no network at all, only the environment given
 * (and PWD=/build, which bwrap sets with the working directory), no file descriptor of the worker's, and
 * of the host only /usr (read-only), the read-only mounts the caller names, and the work directory
 * (read-write, at /build). The root, /dev and /etc are bwrap's own tmpfs, remounted read-only once set
 * up; /etc holds a synthetic passwd and group and the host's /etc/alternatives (the `cc` that Rust build
 * scripts link with is a link through it). The host needs bwrap on the PATH, /bin/sh, util-linux's
 * /usr/bin/prlimit, a merged /usr (/bin, /lib and /lib64 inside are links into it) and unprivileged user
 * namespaces. No seccomp filter is installed.
 *
 * Identity. The build runs as uid/gid 65534 inside. When the worker is root, bwrap itself is started as
 * uid/gid 65534 on the host (and the work directory handed to that user), because a user namespace made
 * by root maps the sandbox's uid to host uid 0: the build would own every root-owned file it can see,
 * and the kernel exempts uid 0 from RLIMIT_NPROC, so a fork bomb would not be stopped. As any other
 * user, the sandbox's uid maps to the worker's own uid. Either way no capability is left inside, and
 * no_new_privs is set.
 *
 * Stopping. bwrap leads its own process group; at any limit, and on abort, the group is SIGKILLed. Pid 1
 * of the sandbox dies with bwrap (--die-with-parent), and the kernel kills every process of a pid
 * namespace whose pid 1 dies; runInSandbox resolves only once that pid 1 is gone.
 *
 * Limits, and how far a build can overshoot each:
 * - wall time: a timer (overshoot: timer latency).
 * - processes: RLIMIT_NPROC = maxProcesses, set inside the sandbox's user namespace, where the kernel
 *   counts only that namespace's tasks (threads count, and bwrap's pid 1); fork fails beyond it. The
 *   watchdog also stops the build when it sees the count reach the limit. No overshoot.
 * - CPU: RLIMIT_CPU = cpuSeconds per process (SIGXCPU, then SIGKILL one second later), and the watchdog
 *   stops the build when the tree's total (live processes plus what they reaped) passes cpuSeconds.
 *   Children whose parent ignores SIGCHLD are reaped without being added to anyone's total, so the tree
 *   total is best effort; the per-process limit and the wall time are the hard bounds.
 * - memory: the watchdog sums RssAnon + RssShmem of the sandbox's processes every WATCHDOG_INTERVAL_MS
 *   and kills above memoryBytes. Overshoot: what the build can allocate in one interval (at a few GB/s,
 *   up to about a GB on a fast machine). Kernel memory (page tables, pipe and socket buffers) is not
 *   counted. The tmpfs /tmp and /dev/shm are RAM too; they are capped by size (maxTmpBytes and
 *   SHM_BYTES), not by memoryBytes. RLIMIT_AS and RLIMIT_DATA cannot be used: V8 and wasmtime reserve
 *   far more address space than they use, and node's worker threads fail under RLIMIT_DATA.
 * - disk: RLIMIT_FSIZE = maxFileBytes per file (a write beyond it fails with SIGXFSZ or EFBIG), and the
 *   watchdog walks the work directory (at most every DISK_INTERVAL_MS, never two walks at once) and
 *   kills above maxWorkDirBytes. Overshoot: what the build writes during one walk and interval.
 * - log: the first maxLogBytes of output (stdout and stderr merged in the order written) are kept and
 *   forwarded, the rest counted and dropped; only past logHardCapBytes is the build stopped.
 * Known gaps, bounded but not closed: memory a process unmaps but keeps (System V shared memory after
 * shmdt, a memfd no longer mapped) and files deleted while held open are not counted by the walks;
 * RLIMIT_NOFILE (SANDBOX_MAX_OPEN_FILES) × maxFileBytes bounds the files, the sandbox's own IPC namespace
 * the shared memory segments only by the kernel's defaults. A seccomp filter (no shmget, memfd_create,
 * io_uring, userfaultfd, bpf) or a cgroup memory.max would close them.
 * cgroups are not used: only a cgroup v2 subtree delegated to the worker would be safe to write to,
 * which workers (in containers, on cgroup v1 hosts) cannot count on; the bounds above hold for root and
 * non-root workers alike.
 *
 * Everything is asynchronous: the event loop never waits on the build.
 */

export const SANDBOX_ERROR_CODES = errorCodes('SANDBOX_UNAVAILABLE', 'SANDBOX_RUN_INVALID');
export type SandboxErrorCode = keyof typeof SANDBOX_ERROR_CODES;

/** Where the work directory appears inside the sandbox, and the working directory of the command. */
export const SANDBOX_WORK_DIR = '/build';
/** uid and gid of the build inside the sandbox (nobody). */
export const SANDBOX_USER_ID = 65534;
/** How often the watchdog reads the sandbox's processes. */
export const WATCHDOG_INTERVAL_MS = 250;
/** The shortest time between two walks of the work directory. */
export const DISK_INTERVAL_MS = 1000;
/** Size of /dev/shm (POSIX shared memory) inside the sandbox, at most. */
export const SHM_BYTES = 64 * 1024 * 1024;
/** How much of the end of the output SandboxOutcome.logTail keeps. */
export const LOG_TAIL_BYTES = 8192;
/** Files a build process may hold open (RLIMIT_NOFILE): plenty for cargo and node, far below the host's. */
export const SANDBOX_MAX_OPEN_FILES = 4096;

export interface SandboxMount {
  hostPath: string;
  sandboxPath: string;
}

export interface SandboxLimits {
  wallTimeMs: number;
  /** Per process (RLIMIT_CPU), and the whole tree as far as the watchdog can count it. */
  cpuSeconds: number;
  /** The whole tree: RssAnon + RssShmem summed by the watchdog. */
  memoryBytes: number;
  /** Tasks (processes and threads) in the sandbox: RLIMIT_NPROC. */
  maxProcesses: number;
  /** Output kept and forwarded; the rest is counted and dropped. */
  maxLogBytes: number;
  maxWorkDirBytes: number;
  /** The largest file the build may write (RLIMIT_FSIZE). */
  maxFileBytes: number;
  /** Size of the tmpfs /tmp; default min(maxWorkDirBytes, memoryBytes). */
  maxTmpBytes?: number;
  /** Output beyond which the build is stopped ('log'); default max(64 MiB, 16 × maxLogBytes). */
  logHardCapBytes?: number;
}

export type SandboxLimit = 'wall-time' | 'cpu' | 'memory' | 'processes' | 'disk' | 'log' | 'aborted';

export interface SandboxRun {
  /** Host directory bound read-write at /build: with the tmpfs /tmp the only writable place. */
  workDir: string;
  command: string[];
  /** The only environment inside (with PWD, which bwrap sets). */
  env: Record<string, string>;
  readOnlyMounts: SandboxMount[];
  limits: SandboxLimits;
  signal?: AbortSignal;
  /** stdout and stderr merged, in order; at most maxLogBytes, then one line saying the rest is dropped. */
  onLog?: (chunk: Buffer) => void;
}

export interface SandboxOutcome {
  /** The command's exit status (128 + n when it died of signal n); null when the sandbox was killed. */
  exitCode: number | null;
  limitExceeded: null | { limit: SandboxLimit; message: string };
  durationMs: number;
  peakMemoryBytes: number;
  /** All output, including what was dropped. */
  logBytes: number;
  logTruncated: boolean;
  /** The last LOG_TAIL_BYTES of the output, kept even when the log was truncated (error messages). */
  logTail: string;
}

export interface SandboxProbe {
  available: boolean;
  version?: string;
  reason?: string;
}

/** The host identity bwrap runs as when the worker is root (see the module comment); null otherwise. */
export function sandboxHostIdentity(): { uid: number; gid: number } | null {
  return process.geteuid?.() === 0 ? { uid: SANDBOX_USER_ID, gid: SANDBOX_USER_ID } : null;
}

const RESERVED_SANDBOX_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/proc', '/dev', '/tmp', '/etc', SANDBOX_WORK_DIR];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PASSWD = `root:x:0:0:root:/:/usr/sbin/nologin\nnobody:x:${SANDBOX_USER_ID}:${SANDBOX_USER_ID}:nobody:/tmp:/usr/sbin/nologin\n`;
const GROUP = `root:x:0:\nnogroup:x:${SANDBOX_USER_ID}:\n`;
// Child process file descriptors: bwrap reports to STATUS_FD, reads /etc/passwd and /etc/group from the next
// two, and its options from ARGS_FD (so that neither `ps` on the host nor /proc/1/cmdline in the sandbox shows
// the host paths and environment they hold).
const STATUS_FD = 3;
const PASSWD_FD = 4;
const GROUP_FD = 5;
const ARGS_FD = 6;
const O_CLOEXEC = 0o2000000;

function invalid(message: string): CodedError<SandboxErrorCode> {
  return new CodedError(SANDBOX_ERROR_CODES.SANDBOX_RUN_INVALID, message);
}

function checkRun(run: SandboxRun): void {
  if (!isAbsolute(run.workDir)) throw invalid(`workDir must be an absolute path, got ${JSON.stringify(run.workDir)}`);
  if (run.command.length === 0) throw invalid('command is empty');
  for (const arg of run.command) if (arg.includes('\0')) throw invalid('command holds a NUL character');
  for (const [name, value] of Object.entries(run.env)) {
    if (!ENV_NAME.test(name)) throw invalid(`env name ${JSON.stringify(name)} is not a valid variable name`);
    if (value.includes('\0')) throw invalid(`env ${name} holds a NUL character`);
  }
  for (const mount of run.readOnlyMounts) {
    if (!isAbsolute(mount.hostPath)) throw invalid(`readOnlyMounts: hostPath ${JSON.stringify(mount.hostPath)} is not absolute`);
    const path = mount.sandboxPath;
    if (!path.startsWith('/') || posix.normalize(path) !== path || path === '/' || path.endsWith('/')) {
      throw invalid(`readOnlyMounts: sandboxPath ${JSON.stringify(path)} is not a normalized absolute path below /`);
    }
    const clash = RESERVED_SANDBOX_PATHS.find((reserved) => path === reserved || path.startsWith(`${reserved}/`));
    if (clash !== undefined) throw invalid(`readOnlyMounts: sandboxPath ${path} would mount over ${clash}, which the sandbox sets up itself`);
  }
  for (const [name, value] of Object.entries(run.limits)) {
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) throw invalid(`limits.${name} must be a positive number, got ${String(value)}`);
  }
}

let bwrapLocation: Promise<string | null> | undefined;

/** bwrap on the worker's PATH (then /usr/bin, /bin); looked up once. */
export function locateBwrap(): Promise<string | null> {
  bwrapLocation ??= (async () => {
    const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(isAbsolute), '/usr/bin', '/bin'];
    for (const dir of dirs) {
      const candidate = join(dir, 'bwrap');
      try {
        await access(candidate, fsConstants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
    bwrapLocation = undefined;
    return null;
  })();
  return bwrapLocation;
}

/**
 * File descriptors this process holds without close-on-exec (inherited from whoever started the
 * worker): neither node's spawn nor bwrap closes them, so they would reach the sandbox. The child gets
 * /dev/null in their place.
 */
async function inheritableFds(): Promise<number[]> {
  const fds: number[] = [];
  for (const name of await readdir('/proc/self/fdinfo')) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd <= ARGS_FD) continue;
    try {
      const flags = /^flags:\s+([0-7]+)$/m.exec(await readFile(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (flags !== null && (Number.parseInt(flags[1] ?? '0', 8) & O_CLOEXEC) === 0) fds.push(fd);
    } catch {
      // closed meanwhile (the directory handle of the listing itself, for one)
    }
  }
  return fds;
}

/** bwrap's options (passed through ARGS_FD), then the command line it runs. */
function bwrapArguments(run: SandboxRun, tmpBytes: number): { options: string[]; command: string[] } {
  const { limits } = run;
  const mounts = [...run.readOnlyMounts].sort((a, b) => a.sandboxPath.split('/').length - b.sandboxPath.split('/').length);
  const options = [
    '--unshare-all',
    '--unshare-user',
    '--disable-userns',
    '--die-with-parent',
    '--new-session',
    '--clearenv',
    ...['--uid', String(SANDBOX_USER_ID), '--gid', String(SANDBOX_USER_ID)],
    ...['--hostname', 'build'],
    ...['--json-status-fd', String(STATUS_FD)],
    ...['--ro-bind', '/usr', '/usr'],
    ...['--symlink', 'usr/bin', '/bin', '--symlink', 'usr/sbin', '/sbin', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64'],
    ...['--proc', '/proc', '--dev', '/dev'],
    ...['--size', String(Math.min(SHM_BYTES, tmpBytes)), '--tmpfs', '/dev/shm'],
    ...['--size', String(tmpBytes), '--tmpfs', '/tmp'],
    ...['--dir', '/etc', '--perms', '0444', '--ro-bind-data', String(PASSWD_FD), '/etc/passwd', '--perms', '0444', '--ro-bind-data', String(GROUP_FD), '/etc/group'],
    ...['--ro-bind-try', '/etc/alternatives', '/etc/alternatives'],
    ...mounts.flatMap((mount) => ['--ro-bind', mount.hostPath, mount.sandboxPath]),
    ...['--bind', run.workDir, SANDBOX_WORK_DIR, '--chdir', SANDBOX_WORK_DIR],
    ...Object.entries(run.env).flatMap(([name, value]) => ['--setenv', name, value]),
    ...['--remount-ro', '/dev', '--remount-ro', '/'],
  ];
  const command = [
    // The limits are set inside, after the user namespace exists: RLIMIT_NPROC then counts only its tasks.
    '/usr/bin/prlimit',
    `--nproc=${limits.maxProcesses}`,
    `--cpu=${Math.ceil(limits.cpuSeconds)}:${Math.ceil(limits.cpuSeconds) + 1}`,
    `--fsize=${limits.maxFileBytes}`,
    // Bounds what a build can hold outside the watchdog's sight (deleted files kept open, memfds).
    `--nofile=${SANDBOX_MAX_OPEN_FILES}`,
    '--msgqueue=0',
    '--core=0',
    '--',
    ...run.command,
  ];
  return { options, command };
}

function abortedOutcome(): SandboxOutcome {
  return {
    exitCode: null,
    limitExceeded: { limit: 'aborted', message: 'the build was cancelled before it started' },
    durationMs: 0,
    peakMemoryBytes: 0,
    logBytes: 0,
    logTruncated: false,
    logTail: '',
  };
}

function describeBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${bytes} bytes`;
}

/** Runs `run.command` in a fresh sandbox and resolves once the sandbox and every process in it are gone. */
export async function runInSandbox(run: SandboxRun): Promise<SandboxOutcome> {
  checkRun(run);
  const bwrap = await locateBwrap();
  if (bwrap === null) throw new CodedError(SANDBOX_ERROR_CODES.SANDBOX_UNAVAILABLE, 'bwrap (bubblewrap) was not found on the PATH');
  if (run.signal?.aborted) return abortedOutcome();

  const { limits } = run;
  const hostIdentity = sandboxHostIdentity();
  if (hostIdentity !== null) await chownTree(run.workDir, hostIdentity.uid, hostIdentity.gid);
  const tmpBytes = limits.maxTmpBytes ?? Math.min(limits.maxWorkDirBytes, limits.memoryBytes);
  const logHardCap = limits.logHardCapBytes ?? Math.max(64 * 1024 * 1024, 16 * limits.maxLogBytes);
  const coveredFds = await inheritableFds();
  const devNull = coveredFds.length > 0 ? await open('/dev/null', 'r') : null;
  const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'pipe', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'];
  for (const fd of coveredFds) {
    while (stdio.length < fd) stdio.push('ignore');
    stdio[fd] = devNull?.fd ?? 'ignore';
  }

  const started = performance.now();
  const { options, command } = bwrapArguments(run, tmpBytes);
  // sh makes stderr a copy of stdout, so that the log keeps the order in which the build wrote it (bwrap's own errors included).
  const child = spawn('/bin/sh', ['-c', 'exec 2>&1; exec "$0" "$@"', bwrap, '--args', String(ARGS_FD), '--', ...command], {
    stdio,
    env: {},
    cwd: '/',
    detached: true,
    ...(hostIdentity ?? {}),
  });
  await devNull?.close();

  return new Promise<SandboxOutcome>((resolve, reject) => {
    let limitExceeded: SandboxOutcome['limitExceeded'] = null;
    let finished = false;
    let status = '';
    let sandboxInit: { pid: number; startTime: number } | null = null;
    let logBytes = 0;
    let forwarded = 0;
    let logTruncated = false;
    let truncationNoted = false;
    let tail = Buffer.alloc(0);
    let peakMemoryBytes = 0;
    let diskWalk: Promise<void> | null = null;
    let lastDiskWalk = 0;
    let watchdog: NodeJS.Timeout | undefined;

    const killSandbox = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const stop = (limit: SandboxLimit, message: string): void => {
      if (finished || limitExceeded !== null) return;
      limitExceeded = { limit, message };
      killSandbox();
    };
    const forward = (chunk: Buffer): void => {
      try {
        run.onLog?.(chunk);
      } catch {
        // a failing log consumer does not stop the build
      }
    };

    const wallTimer = setTimeout(() => stop('wall-time', `the build ran longer than ${limits.wallTimeMs} ms`), limits.wallTimeMs);
    const onAbort = (): void => stop('aborted', 'the build was cancelled');
    run.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout?.on('data', (chunk: Buffer) => {
      logBytes += chunk.length;
      tail = Buffer.concat([tail, chunk]);
      if (tail.length > LOG_TAIL_BYTES) tail = tail.subarray(tail.length - LOG_TAIL_BYTES);
      const kept = chunk.subarray(0, Math.max(0, limits.maxLogBytes - forwarded));
      if (kept.length > 0) {
        forwarded += kept.length;
        forward(kept);
      }
      if (kept.length < chunk.length) {
        logTruncated = true;
        if (!truncationNoted) forward(Buffer.from(`\n[log truncated at ${limits.maxLogBytes} bytes; further output is counted and dropped]\n`));
        truncationNoted = true;
      }
      if (logBytes > logHardCap) stop('log', `the build wrote more than ${describeBytes(logHardCap)} of output`);
    });
    const statusStream = child.stdio[STATUS_FD];
    statusStream?.on('error', () => {});
    statusStream?.on('data', (chunk: Buffer) => {
      status += chunk.toString('utf8');
      const pid = /"child-pid":\s*(\d+)/.exec(status)?.[1];
      if (pid !== undefined && sandboxInit === null) {
        sandboxInit = { pid: Number(pid), startTime: -1 };
        void readProcessStat(Number(pid)).then((stat) => {
          if (stat !== null && sandboxInit !== null) sandboxInit.startTime = stat.startTime;
        });
      }
    });
    for (const [fd, text] of [
      [ARGS_FD, options.map((option) => `${option}\0`).join('')],
      [PASSWD_FD, PASSWD],
      [GROUP_FD, GROUP],
    ] as const) {
      const stream = (child.stdio as unknown[])[fd] as NodeJS.WritableStream & { on(event: 'error', listener: () => void): void };
      // bwrap stops reading when it fails before getting there; its message says why.
      stream.on('error', () => {});
      stream.end(text);
    }

    const checkDisk = (): void => {
      if (diskWalk !== null || performance.now() - lastDiskWalk < DISK_INTERVAL_MS) return;
      diskWalk = measureDirectory(run.workDir, limits.maxWorkDirBytes)
        .then((usage) => {
          if (usage.bytes > limits.maxWorkDirBytes) stop('disk', `the work directory grew past ${describeBytes(limits.maxWorkDirBytes)}`);
        })
        .catch(() => {})
        .finally(() => {
          lastDiskWalk = performance.now();
          diskWalk = null;
        });
    };
    const sample = async (): Promise<void> => {
      if (finished || child.pid === undefined) return;
      try {
        const init = sandboxInit !== null && sandboxInit.startTime >= 0 ? sandboxInit : null;
        const usage = await measureSandboxProcesses(child.pid, init);
        peakMemoryBytes = Math.max(peakMemoryBytes, usage.memoryBytes);
        if (usage.memoryBytes > limits.memoryBytes) {
          stop('memory', `the build's processes held ${describeBytes(usage.memoryBytes)}, more than the ${describeBytes(limits.memoryBytes)} allowed`);
        } else if (usage.tasks >= limits.maxProcesses) {
          stop('processes', `the build reached ${limits.maxProcesses} processes and threads`);
        } else if (usage.cpuSeconds > limits.cpuSeconds) {
          stop('cpu', `the build used more than ${limits.cpuSeconds} s of CPU time`);
        }
        checkDisk();
      } catch {
        // the next sample will tell
      }
      if (!finished) watchdog = setTimeout(() => void sample(), WATCHDOG_INTERVAL_MS);
    };
    watchdog = setTimeout(() => void sample(), Math.min(50, WATCHDOG_INTERVAL_MS));

    const finish = async (code: number | null, error?: Error): Promise<void> => {
      if (finished) return;
      finished = true;
      clearTimeout(wallTimer);
      clearTimeout(watchdog);
      run.signal?.removeEventListener('abort', onAbort);
      await diskWalk;
      await waitUntilGone(sandboxInit);
      const logTail = tail.toString('utf8');
      if (error !== undefined) {
        reject(new CodedError(SANDBOX_ERROR_CODES.SANDBOX_UNAVAILABLE, `the sandbox could not be started: ${error.message}`, { cause: error }));
        return;
      }
      // bwrap reports an exit code only for a command it started; without one, setting up the sandbox failed.
      if (limitExceeded === null && !/"exit-code"/.test(status)) {
        reject(new CodedError(SANDBOX_ERROR_CODES.SANDBOX_UNAVAILABLE, `bwrap could not set up the sandbox: ${logTail.trim().slice(-2000) || `exit code ${String(code)}`}`));
        return;
      }
      resolve({
        exitCode: limitExceeded === null ? code : null,
        limitExceeded: limitExceeded ?? limitFromExitCode(code) ?? (code !== 0 ? await fileSizeLimitReached(run.workDir, limits.maxFileBytes) : null),
        durationMs: Math.round(performance.now() - started),
        peakMemoryBytes,
        logBytes,
        logTruncated,
        logTail,
      });
    };
    child.on('error', (error) => void finish(null, error));
    child.on('close', (code) => void finish(code));
  });
}

/** A command killed by the signal of RLIMIT_CPU or RLIMIT_FSIZE (exit status 128 + signal) hit that limit. */
function limitFromExitCode(code: number | null): SandboxOutcome['limitExceeded'] {
  if (code === 128 + 24) return { limit: 'cpu', message: 'a process used up its CPU time (RLIMIT_CPU, SIGXCPU)' };
  if (code === 128 + 25) return { limit: 'disk', message: 'a process wrote a file larger than maxFileBytes (RLIMIT_FSIZE, SIGXFSZ)' };
  return null;
}

/**
 * A failed build that left a file of exactly maxFileBytes hit RLIMIT_FSIZE: programs that ignore SIGXFSZ
 * (node does) see their write fail with EFBIG instead of dying of the signal.
 */
async function fileSizeLimitReached(workDir: string, maxFileBytes: number): Promise<SandboxOutcome['limitExceeded']> {
  try {
    const { largestFileBytes } = await measureDirectory(workDir);
    return largestFileBytes >= maxFileBytes ? { limit: 'disk', message: `a file reached maxFileBytes (${maxFileBytes} bytes), the most a build may write to one file` } : null;
  } catch {
    return null;
  }
}

/**
 * Waits until pid 1 of the sandbox is gone. Its namespace is emptied before it exits, so then nothing of
 * the build runs any more; should it linger (it cannot outlive bwrap by design), it is killed.
 */
async function waitUntilGone(sandboxInit: { pid: number; startTime: number } | null): Promise<void> {
  if (sandboxInit === null || sandboxInit.startTime < 0) return;
  for (let waited = 0; waited < 5000; waited += 20) {
    if (!(await isProcessRunning(sandboxInit.pid, sandboxInit.startTime))) return;
    if (waited >= 200) {
      try {
        process.kill(sandboxInit.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const PROBE_LIMITS: SandboxLimits = {
  wallTimeMs: 10_000,
  cpuSeconds: 5,
  memoryBytes: 256 * 1024 * 1024,
  maxProcesses: 64,
  maxLogBytes: 64 * 1024,
  maxWorkDirBytes: 1024 * 1024,
  maxFileBytes: 1024 * 1024,
};

async function bwrapVersion(bwrap: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(bwrap, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'], env: {} });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', () => resolve(undefined));
    child.on('close', () => resolve(out.trim() || undefined));
  });
}

/** Starts a trivial command in a sandbox set up as for a build: "available" means builds can run here. */
export async function probeSandbox(): Promise<SandboxProbe> {
  const bwrap = await locateBwrap();
  if (bwrap === null) return { available: false, reason: 'bwrap (bubblewrap) was not found on the PATH' };
  const version = await bwrapVersion(bwrap);
  const workDir = await mkdtemp(join(tmpdir(), 'wasm-signer-sandbox-probe-'));
  try {
    const outcome = await runInSandbox({ workDir, command: ['/usr/bin/true'], env: {}, readOnlyMounts: [], limits: PROBE_LIMITS });
    if (outcome.exitCode !== 0) {
      const why = outcome.limitExceeded?.message ?? `exit code ${String(outcome.exitCode)}`;
      return { available: false, version, reason: `a trivial sandboxed command failed (${why}): ${outcome.logTail.trim().slice(-500)}` };
    }
    return { available: true, version };
  } catch (error) {
    return { available: false, version, reason: error instanceof Error ? error.message : String(error) };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
