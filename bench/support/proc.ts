/**
 * Readings from Linux /proc: CPU time of processes and of the whole machine, and resident memory.
 * Used to see where the CPU of a 2-core machine goes during a run, and how much memory an upload costs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds a process has used so far; undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces and parentheses): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Busy and total CPU seconds of the whole machine, summed over all cores. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('cpu '))!;
  // user nice system idle iowait irq softirq steal (guest time is already counted in user).
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
  const total = user! + nice! + system! + idle! + iowait! + irq! + softirq! + steal!;
  return { busy: (total - idle! - iowait!) / CLOCK_TICKS_PER_SECOND, total: total / CLOCK_TICKS_PER_SECOND };
}

/** Current and peak resident set size of a process, in bytes (VmRSS, VmHWM). */
export function processMemory(pid: number): { rss: number; hwm: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/** Processes whose environment holds `NAME=value` exactly, with their command name (comm). */
export function processesWithEnvironment(name: string, value: string): { pid: number; comm: string }[] {
  const wanted = `${name}=${value}`;
  const found: { pid: number; comm: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0');
      if (environ.includes(wanted)) found.push({ pid: Number(entry), comm: readFileSync(`/proc/${entry}/comm`, 'utf8').trim() });
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** Processes whose command name (comm) is exactly `comm`. */
export function processesNamed(comm: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

/** The processes behind one label: a pid, none, or a group found anew at each snapshot (e.g. database backends). */
export type PidSource = number | undefined | (() => Promise<number[]>);

/** A named set of processes whose CPU use is compared between two moments. */
export type ProcessSet = Record<string, PidSource>;

export interface CpuSnapshot {
  at: number;
  machine: { busy: number; total: number };
  /** label → pid → CPU seconds so far. */
  processes: Record<string, Map<number, number>>;
}

export async function cpuSnapshot(processes: ProcessSet): Promise<CpuSnapshot> {
  const resolved = await Promise.all(
    Object.entries(processes).map(async ([label, source]) => {
      const pids = source === undefined ? [] : typeof source === 'number' ? [source] : await source();
      const cpu = new Map<number, number>();
      for (const pid of pids) {
        const seconds = processCpuSeconds(pid);
        if (seconds !== undefined) cpu.set(pid, seconds);
      }
      return [label, cpu] as const;
    }),
  );
  return { at: performance.now(), machine: machineCpuSeconds(), processes: Object.fromEntries(resolved) };
}

export interface CpuUsageRow {
  label: string;
  /** CPU seconds used between the two snapshots. */
  seconds: number;
  /** Average number of cores kept busy. */
  cores: number;
}

/**
 * CPU used between two snapshots by each labelled process (group), by everything else on the machine,
 * and in total; the machine's core count bounds the total. A process that appeared in between counts
 * with all its CPU time; one that ended in between is not counted (it falls under "everything else").
 */
export interface CpuUsage {
  rows: CpuUsageRow[];
  wallSeconds: number;
  machineCores: number;
  /** CPU seconds of the labelled processes together. */
  listedSeconds: number;
  /** Cores kept busy on average by everything else (other users: noise). */
  otherCores: number;
}

export function cpuUsage(before: CpuSnapshot, after: CpuSnapshot): CpuUsage {
  const wallSeconds = (after.at - before.at) / 1000;
  const machineBusy = after.machine.busy - before.machine.busy;
  const machineCores = Math.round((after.machine.total - before.machine.total) / wallSeconds);
  const rows: CpuUsageRow[] = [];
  let listed = 0;
  for (const [label, pids] of Object.entries(after.processes)) {
    if (pids.size === 0) continue;
    let seconds = 0;
    for (const [pid, end] of pids) seconds += end - (before.processes[label]?.get(pid) ?? 0);
    listed += seconds;
    rows.push({ label, seconds, cores: seconds / wallSeconds });
  }
  const other = Math.max(0, machineBusy - listed);
  rows.push({ label: 'everything else (other users of the machine)', seconds: other, cores: other / wallSeconds });
  rows.push({ label: 'machine total', seconds: machineBusy, cores: machineBusy / wallSeconds });
  return { rows, wallSeconds, machineCores, listedSeconds: listed, otherCores: other / wallSeconds };
}
