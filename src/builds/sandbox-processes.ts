import { readdir, readFile } from 'node:fs/promises';

/**
 * What the sandbox watchdog reads of a sandbox's processes: how many tasks (threads count, as they do for
 * RLIMIT_NPROC), how much memory they hold that only they can free, and how much CPU they have used.
 *
 * The processes are read through the sandbox's own procfs, reached from the host as
 * /proc/<pid 1 of the sandbox>/root/proc: it lists exactly the sandbox's pid namespace, however many
 * processes the host has. The worker may read it because it created the user namespace the sandbox
 * runs in (ptrace read access), as root or not. Before bwrap has pivoted into the new root that path
 * still shows the host's /proc; the view is only trusted when its pid 1 is the sandbox's pid 1 (same
 * start time). Where it cannot be read, the host's /proc is scanned for the descendants of the bwrap
 * process instead.
 */
export interface SandboxProcessUsage {
  /** Processes (thread groups) in the sandbox, bwrap's pid 1 included. */
  processes: number;
  /** Tasks: threads of every process, the unit RLIMIT_NPROC counts. */
  tasks: number;
  /** Sum of RssAnon + RssShmem: anonymous and shared-memory pages, which file-backed pages (shared libraries, counted once per process by plain RSS) are not. */
  memoryBytes: number;
  /** utime + stime of every live process plus what each collected of its reaped children (cutime + cstime). */
  cpuSeconds: number;
}

/** The fields of /proc/<pid>/stat the watchdog uses. */
export interface ProcessStat {
  pid: number;
  ppid: number;
  state: string;
  threads: number;
  cpuTicks: number;
  /** Clock ticks after boot: with the pid, names one process even after the pid is reused. */
  startTime: number;
}

// USER_HZ, the unit of the times in /proc/<pid>/stat, is 100 on every Linux architecture (proc(5)).
const CLOCK_TICKS_PER_SECOND = 100;

/** Parses /proc/<pid>/stat; the command name sits in parentheses and may itself hold spaces and parentheses. */
export function parseProcessStat(text: string): ProcessStat | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const pid = Number.parseInt(text, 10);
  // Fields after the name, numbered as in proc(5): [0] is field 3 (state).
  const fields = text
    .slice(close + 2)
    .trim()
    .split(' ');
  const field = (n: number): number => Number(fields[n - 3]);
  if (!Number.isInteger(pid) || fields.length < 20) return null;
  return {
    pid,
    ppid: field(4),
    state: fields[0] ?? '?',
    threads: field(20),
    cpuTicks: field(14) + field(15) + field(16) + field(17),
    startTime: field(22),
  };
}

export async function readProcessStat(pid: number, procRoot = '/proc'): Promise<ProcessStat | null> {
  try {
    return parseProcessStat(await readFile(`${procRoot}/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** True while the process exists and is not a zombie (a zombie pid 1 has already emptied its namespace). */
export async function isProcessRunning(pid: number, startTime: number): Promise<boolean> {
  const stat = await readProcessStat(pid);
  return stat !== null && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}

async function privateMemoryBytes(pid: number, procRoot: string): Promise<number> {
  let status: string;
  try {
    status = await readFile(`${procRoot}/${pid}/status`, 'utf8');
  } catch {
    return 0;
  }
  let kib = 0;
  for (const match of status.matchAll(/^(?:RssAnon|RssShmem):\s+(\d+) kB$/gm)) kib += Number(match[1]);
  return kib * 1024;
}

async function numericEntries(dir: string): Promise<number[]> {
  return (await readdir(dir)).filter((name) => /^\d+$/.test(name)).map(Number);
}

async function usageOf(stats: ProcessStat[], procRoot: string): Promise<SandboxProcessUsage> {
  const memories = await Promise.all(stats.map((stat) => privateMemoryBytes(stat.pid, procRoot)));
  return {
    processes: stats.length,
    tasks: stats.reduce((sum, stat) => sum + stat.threads, 0),
    memoryBytes: memories.reduce((sum, bytes) => sum + bytes, 0),
    cpuSeconds: stats.reduce((sum, stat) => sum + stat.cpuTicks, 0) / CLOCK_TICKS_PER_SECOND,
  };
}

/** Reads the sandbox's pid namespace through its own procfs; null when that view is not (yet) the sandbox's. */
async function usageThroughSandboxProc(sandboxInit: { pid: number; startTime: number }): Promise<SandboxProcessUsage | null> {
  const procRoot = `/proc/${sandboxInit.pid}/root/proc`;
  try {
    const init = await readProcessStat(1, procRoot);
    if (init === null || init.startTime !== sandboxInit.startTime) return null;
    const stats = await Promise.all((await numericEntries(procRoot)).map((pid) => readProcessStat(pid, procRoot)));
    return await usageOf(
      stats.filter((stat): stat is ProcessStat => stat !== null),
      procRoot,
    );
  } catch {
    return null;
  }
}

/** Scans the host's /proc for the descendants of `rootPid` (not counting it). */
async function usageThroughHostProc(rootPid: number): Promise<SandboxProcessUsage> {
  const stats = (await Promise.all((await numericEntries('/proc')).map((pid) => readProcessStat(pid)))).filter((stat): stat is ProcessStat => stat !== null);
  const children = new Map<number, ProcessStat[]>();
  for (const stat of stats) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const members: ProcessStat[] = [];
  const queue = [...(children.get(rootPid) ?? [])];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    members.push(next);
    queue.push(...(children.get(next.pid) ?? []));
  }
  return usageOf(members, '/proc');
}

/**
 * The sandbox's usage now. `bwrapPid` is the bwrap process the worker started (outside the sandbox, not
 * counted); `sandboxInit` its child, pid 1 of the sandbox, once bwrap has reported it.
 */
export async function measureSandboxProcesses(bwrapPid: number, sandboxInit: { pid: number; startTime: number } | null): Promise<SandboxProcessUsage> {
  if (sandboxInit !== null) {
    const usage = await usageThroughSandboxProc(sandboxInit);
    if (usage !== null) return usage;
  }
  return usageThroughHostProc(bwrapPid);
}
