/**
 * Summarises a V8 CPU profile (node --cpu-prof): self time by package (node_modules/<name>, Node.js
 * internals, the service's own code, GC) and by function, as shares of the time the process was busy.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { heading, note, printTable } from './report';
import { fixed } from './stats';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds on the system's monotonic clock (the one process.hrtime reads). */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A stretch of time in microseconds on the monotonic clock, [start, end). */
export type ProfileWindow = readonly [number, number];

/** Now, on the clock V8 CPU profiles are stamped with, in microseconds. */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export interface ProfileShare {
  label: string;
  ms: number;
  /** Share of busy (non-idle) time, 0–1. */
  share: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  byPackage: ProfileShare[];
  byFunction: ProfileShare[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** Self time of the samples taken inside `windows` (all samples when none are given). */
export function summariseCpuProfile(file: string, windows: readonly ProfileWindow[] = [], top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (windows.length === 0 || windows.some(([start, end]) => at >= start && at < end)) selfMs.set(id, (selfMs.get(id) ?? 0) + delta / 1000);
  });

  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let idleMs = 0;
  let busyMs = 0;
  for (const [id, ms] of selfMs) {
    const frame = nodes.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    busyMs += ms;
    const pkg = packageOf(frame);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
    const fn = SPECIAL.has(frame.functionName) ? frame.functionName : `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
  }
  const ranked = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([label, ms]) => ({ label, ms, share: busyMs > 0 ? ms / busyMs : 0 }));
  return { busyMs, idleMs, byPackage: ranked(byPackage), byFunction: ranked(byFunction) };
}

function packageOf(frame: ProfileNode['callFrame']): string {
  if (SPECIAL.has(frame.functionName) && frame.url === '') return frame.functionName;
  const { url } = frame;
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  if (url.startsWith('node:')) return 'node: (Node.js internals)';
  if (url.includes('/dist/src/')) return 'wasm-signer (dist/src)';
  if (url === '') return '(native)';
  return shortUrl(url);
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) return url.slice(modules + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/** Prints the summary of the profile the service wrote into `dir` when it exited, over the measured windows. */
export function reportCpuProfile(dir: string, windows: readonly ProfileWindow[], what: string): void {
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) {
    note(`no CPU profile was written to ${dir}`);
    return;
  }
  const summary = summariseCpuProfile(join(dir, file), windows);
  heading(`service CPU profile during ${what} (whole life in ${join(dir, file)})`);
  note(`main thread busy ${fixed(summary.busyMs / 1000, 1)} s, idle ${fixed(summary.idleMs / 1000, 1)} s`);
  printTable(
    ['self time by package', 'ms', 'share'],
    summary.byPackage.map((s) => [s.label, fixed(s.ms, 0), `${fixed(s.share * 100, 1)}%`]),
  );
  process.stdout.write('\n');
  printTable(
    ['self time by function', 'ms', 'share'],
    summary.byFunction.map((s) => [s.label, fixed(s.ms, 0), `${fixed(s.share * 100, 1)}%`]),
  );
}
