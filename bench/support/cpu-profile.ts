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
  children?: number[];
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
  /** Every busy sample in one of the service's parts (COMPONENTS), by its nearest attributable frame. */
  byComponent: ProfileShare[];
}

/**
 * The service's parts a sample is charged to: the first frame, from the sampled function towards the
 * root of its stack, that belongs to one of them (Node.js internals and native code are charged to the
 * code that called them). Samples with no such frame (socket reads and timers that are still inside
 * Node.js, GC) get their own rows.
 */
export const COMPONENTS: readonly { label: string; packages: RegExp; ownCode?: RegExp }[] = [
  { label: 'logging (pino, nestjs-pino)', packages: /^(pino|pino-http|pino-std-serializers|nestjs-pino|sonic-boom|thread-stream|@pinojs\/.*|fast-redact)$/, ownCode: /^logging\// },
  {
    label: 'job events (observers, webhooks, SSE)',
    packages: /^(standardwebhooks)$/,
    ownCode: /^(webhooks\/|pipeline\/job-observers|pipeline\/job-event-stream|pipeline\/job-changes|common\/server-sent-events)/,
  },
  {
    label: 'database (Kysely, pg)',
    packages: /^(kysely|pg|pg-pool|pg-protocol|pg-types|postgres-.*|@electric-sql\/pglite)$/,
    ownCode: /^database\/|\.repository\.js$|-records\.repository|-tables\.js$/,
  },
  {
    label: 'queue (BullMQ, ioredis, rate limits)',
    packages: /^(bullmq|ioredis|@ioredis\/.*|redis-parser|redis-errors|denque|msgpackr|cluster-key-slot|rate-limiter-flexible|cron-parser)$/,
    ownCode: /^pipeline\/(pipeline-|step-queues)/,
  },
  {
    label: 'sigstore (sign, verify, X.509)',
    packages: /^(@sigstore\/.*|sigstore|tuf-js|@tufjs\/.*|@noble\/.*|jose|make-fetch-happen|minipass.*|@npmcli\/.*|cacache|ssri)$/,
    ownCode: /^(signing|sigstore|signature-formats|x509|verification|transparency)\//,
  },
  { label: 'registry client (OCI)', packages: /^$/, ownCode: /^(registry|artifacts\/(push-step|write-wasm-artifact|oci-wasm-layout))/ },
  { label: 'outbound HTTP (undici: registry, Fulcio, Rekor, TSA)', packages: /^undici$/ },
  { label: 'upload inspection (wasm)', packages: /^$/, ownCode: /^wasm\// },
  {
    label: 'HTTP (Fastify, Nest, auth, audit)',
    packages:
      /^(fastify|@fastify\/.*|find-my-way|avvio|light-my-request|fast-json-stringify|fast-querystring|fastq|secure-json-parse|@nestjs\/.*|rxjs|class-transformer|class-validator|reflect-metadata|iterare|helmet|prom-client|uid|toad-cache|ajv|fast-uri)$/,
    ownCode: /^(app|main|common|auth|access|artifacts|pipeline|metrics|health|lifecycle|config)/,
  },
];

const UNATTRIBUTED = 'Node.js internals with no caller above (socket I/O, timers)';

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

  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const byComponent = new Map<string, number>();

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
    const component = componentOf(id, nodes, parentOf);
    byComponent.set(component, (byComponent.get(component) ?? 0) + ms);
  }
  const ranked = (map: Map<string, number>, count = top) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([label, ms]) => ({ label, ms, share: busyMs > 0 ? ms / busyMs : 0 }));
  return { busyMs, idleMs, byPackage: ranked(byPackage), byFunction: ranked(byFunction), byComponent: ranked(byComponent, Number.POSITIVE_INFINITY) };
}

/** The service part a sample is charged to (see COMPONENTS). */
function componentOf(id: number, nodes: Map<number, ProfileNode>, parentOf: Map<number, number>): string {
  const leaf = nodes.get(id)!.callFrame;
  if (leaf.functionName === '(garbage collector)') return '(garbage collector)';
  if (leaf.functionName === '(program)') return '(program: V8 itself, outside JavaScript)';
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const { url } = nodes.get(at)!.callFrame;
    if (url === '' || url.startsWith('node:')) continue;
    const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (modules) {
      const found = COMPONENTS.find((c) => c.packages.test(modules[1]!));
      if (found) return found.label;
      continue;
    }
    const own = /\/dist\/src\/(.*)$/.exec(url);
    if (own) {
      const found = COMPONENTS.find((c) => c.ownCode?.test(own[1]!));
      if (found) return found.label;
    }
  }
  return UNATTRIBUTED;
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

/**
 * Prints the summary of the profile the service wrote into `dir` when it exited, over the measured windows.
 * With `perItem`, the parts of the service are also shown in CPU ms per item: each part's share of the
 * profile's busy samples times the CPU the process really used (read from /proc). The profiler samples
 * the main thread on the wall clock, so on a busy machine time the thread spent waiting for a core counts
 * as busy; shares stay comparable, absolute profile milliseconds do not.
 */
export function reportCpuProfile(dir: string, windows: readonly ProfileWindow[], what: string, perItem?: { count: number; item: string; cpuSeconds: number }): void {
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) {
    note(`no CPU profile was written to ${dir}`);
    return;
  }
  const summary = summariseCpuProfile(join(dir, file), windows);
  heading(`service CPU profile during ${what} (whole life in ${join(dir, file)})`);
  note(`main thread busy ${fixed(summary.busyMs / 1000, 1)} s, idle ${fixed(summary.idleMs / 1000, 1)} s`);
  const cpuMsPerItem = perItem ? (perItem.cpuSeconds * 1000) / perItem.count : undefined;
  printTable(
    ['by part of the service (nearest attributable caller)', 'share', ...(cpuMsPerItem === undefined ? [] : [`CPU ms/${perItem!.item}`])],
    summary.byComponent.map((s) => [s.label, `${fixed(s.share * 100, 1)}%`, ...(cpuMsPerItem === undefined ? [] : [fixed(s.share * cpuMsPerItem, 1)])]),
  );
  if (cpuMsPerItem !== undefined) note(`the service used ${fixed(cpuMsPerItem, 1)} ms of CPU per ${perItem!.item} in all (/proc)`);
  process.stdout.write('\n');
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
