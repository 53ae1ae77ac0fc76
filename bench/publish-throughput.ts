/**
 * publish-throughput: signed artifacts per second end to end through the API — N uploads of a real
 * component to distinct repositories, each followed until its job (push, sign, verify) succeeded —
 * against the same work done directly in this process with the service's own classes, in the same run.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRepository } from '../src/index';
import type { Benchmark, BenchContext } from './support/benchmark';
import { monotonicMicros, reportCpuProfile } from './support/cpu-profile';
import { serviceEnvironment, serviceStorage } from './support/service-storage';
import { DirectPublisher, type DirectPhases } from './support/direct-publish';
import { REPO_ROOT } from './support/environment';
import { type JobView, type WaitMode, between, waitForJob } from './support/jobs';
import { runPool } from './support/pool';
import { type CpuSnapshot, type ProcessSet, cpuSnapshot, cpuUsage } from './support/proc';
import { benchRegistryClient } from './support/registry';
import { RegistryRequestCounter } from './support/registry-log';
import { type SigstoreCalls, SigstoreRequestCounter, printSigstoreCallsPerArtifact } from './support/sigstore-requests';
import { heading, noiseWarning, note, printTable, verdict } from './support/report';
import { ServiceUnderTest } from './support/service';
import { booleanSetting, choiceSetting, integerSetting } from './support/settings';
import { fixed, mean, percentile, shortfall } from './support/stats';

const COMPONENT = join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm');

/**
 * Targets: API throughput at least 0.9 × the direct path's; the service's CPU per artifact at most
 * 1.2 × the direct work's (this process's CPU per artifact during the direct pass). An absolute rate is
 * not a target: the registry and the stand-in Sigstore stack alone use much of the machine's CPU per
 * artifact (printed in the CPU tables).
 */
const TARGET_RATIO = 0.9;
const TARGET_SERVICE_CPU_FACTOR = 1.2;

const METHODS = ['HEAD', 'GET', 'POST', 'PATCH', 'PUT'] as const;

interface Settings {
  count: number;
  concurrency: number;
  warmup: number;
  workerConcurrency: number;
  wait: WaitMode;
  pollMs: number;
  jobTimeoutMs: number;
  directVerify: boolean;
  cpuProfile: boolean;
  /** The service's SIGNING_CERTIFICATE_SCOPE (BENCH_SERVICE_SIGNING_CERTIFICATE_SCOPE), which the direct path follows too. */
  certificateScope: 'job' | 'signature';
}

/** One measured pass: how many, how long, and each item's latency. */
interface Pass {
  count: number;
  wallMs: number;
  latenciesMs: number[];
  cpu: { before: CpuSnapshot; after: CpuSnapshot };
  /** Requests the registry served during the pass, by method. */
  registryRequests: Record<string, number>;
  /** Fulcio, Rekor and TSA calls during the pass. */
  sigstoreCalls?: SigstoreCalls;
}

interface ApiSample {
  latencyMs: number;
  uploadMs: number;
  /** When the client saw the job end (epoch ms), to compare with the job's own timestamps. */
  seenAtEpochMs: number;
  /** Status requests made while waiting. */
  statusRequests: number;
  job: JobView;
}

export const publishThroughput: Benchmark = {
  name: 'publish-throughput',
  summary: 'signed artifacts/s through POST /v1/artifacts vs. the same push+sign work done in-process',
  configure() {
    const settings: Settings = {
      count: integerSetting('BENCH_PUBLISH_COUNT', 200, 1, 100_000),
      concurrency: integerSetting('BENCH_PUBLISH_CONCURRENCY', 16, 1, 1_000),
      warmup: integerSetting('BENCH_PUBLISH_WARMUP', 4, 0, 1_000),
      workerConcurrency: integerSetting('BENCH_WORKER_CONCURRENCY', 16, 1, 1_000),
      wait: choiceSetting('BENCH_WAIT', ['sse', 'poll'] as const, 'sse'),
      pollMs: integerSetting('BENCH_POLL_MS', 100, 10, 10_000),
      jobTimeoutMs: integerSetting('BENCH_JOB_TIMEOUT_S', 120, 1, 3_600) * 1000,
      directVerify: booleanSetting('BENCH_DIRECT_VERIFY', true),
      cpuProfile: booleanSetting('BENCH_CPU_PROF', false),
      certificateScope: choiceSetting('BENCH_SERVICE_SIGNING_CERTIFICATE_SCOPE', ['job', 'signature'] as const, 'job'),
    };
    return (context) => run(context, settings);
  },
};

async function run(context: BenchContext, settings: Settings): Promise<void> {
  const { environment: env, cleanup, log } = context;
  const component = readFileSync(COMPONENT);
  const runId = randomUUID().slice(0, 8);
  const repository = (kind: string, i: number) => `${env.registryHost}/bench/publish-${runId}/${kind}-${i}`;
  const tag = 'v1.0.0';
  const baseProcesses: ProcessSet = {
    [BENCH_PROCESS]: process.pid,
    'stack (Fulcio, Rekor, TSA, OIDC)': async () => env.pids.stack,
    registry: env.pids.registry,
    'Redis (shared)': async () => env.pids.redis,
  };
  const registryRequests = new RegistryRequestCounter(env.registryLog);
  const sigstoreRequests = new SigstoreRequestCounter(env.stackEnv);

  // ── Direct: the same work in this process ──
  const direct = new DirectPublisher(benchRegistryClient(env.stackEnv), env.stackEnv, settings.directVerify, settings.certificateScope);
  const publishDirect = (kind: string, i: number) => direct.publish(parseRepository(repository(kind, i)), tag, component);
  log(`direct: ${settings.warmup} warm-up, then ${settings.count} publishes at concurrency ${settings.concurrency}`);
  await runPool(settings.warmup, settings.concurrency, (i) => publishDirect('direct-warmup', i));
  await sigstoreRequests.start();
  const directPass = await measure(baseProcesses, registryRequests, settings.count, settings.concurrency, async (i) => {
    const started = performance.now();
    const phases = await publishDirect('direct', i);
    return { latencyMs: performance.now() - started, phases };
  });
  directPass.sigstoreCalls = await sigstoreRequests.count();

  // ── API: the service as its own process ──
  const storage = await serviceStorage(cleanup, env, 'publish');
  const { database } = storage;
  const profileDir = settings.cpuProfile ? mkdtempSync(join(tmpdir(), 'wasm-signer-bench-profile-')) : undefined;
  const service = await ServiceUnderTest.start({
    main: env.serviceMain,
    env: serviceEnvironment(env, storage, `bench-${runId}`, { WORKER_CONCURRENCY: String(settings.workerConcurrency) }),
    cpuProfileDir: profileDir,
  });
  cleanup.defer('stop the service', async () => void (await service.stop()));

  const publishThroughApi = async (kind: string, i: number): Promise<ApiSample> => {
    const started = performance.now();
    const query = new URLSearchParams({ repository: repository(kind, i), tag });
    const response = await fetch(service.url(`/v1/artifacts?${query}`), {
      method: 'POST',
      headers: { ...service.authorization, 'content-type': 'application/wasm' },
      body: component,
      signal: AbortSignal.timeout(settings.jobTimeoutMs),
    });
    if (response.status !== 202) throw new Error(`POST /v1/artifacts answered HTTP ${response.status}: ${await response.text()}\n${service.logTail}`);
    const accepted = (await response.json()) as JobView;
    const uploadMs = performance.now() - started;
    const { job, seenAt, requests } = await waitForJob(service, accepted.id, { mode: settings.wait, pollMs: settings.pollMs, timeoutMs: settings.jobTimeoutMs });
    if (job.state !== 'succeeded') {
      throw new Error(`job ${job.id} failed in step ${job.error?.step ?? '?'}: ${job.error?.code} ${job.error?.message}\n${service.logTail}`);
    }
    return { latencyMs: seenAt - started, uploadMs, seenAtEpochMs: Date.now() - (performance.now() - seenAt), statusRequests: requests, job };
  };
  log(`API: ${settings.warmup} warm-up, then ${settings.count} uploads at concurrency ${settings.concurrency}`);
  await runPool(settings.warmup, settings.concurrency, (i) => publishThroughApi('api-warmup', i));
  const apiProcesses: ProcessSet = {
    ...baseProcesses,
    [SERVICE]: service.pid,
    "PostgreSQL (backends of the run's database)": () => database.backendPids(),
  };
  await sigstoreRequests.start();
  const apiWindowStart = monotonicMicros();
  const apiPass = await measure(apiProcesses, registryRequests, settings.count, settings.concurrency, (i) => publishThroughApi('api', i));
  const apiWindow = [apiWindowStart, monotonicMicros()] as const;
  apiPass.sigstoreCalls = await sigstoreRequests.count();

  const exitCode = await service.stop();
  if (exitCode !== 0) log(`the service exited with ${exitCode}:\n${service.logTail}`);

  report(settings, component.length, directPass, apiPass);
  if (profileDir) reportCpuProfile(profileDir, [apiWindow], 'the measured API run', { count: apiPass.count, item: 'artifact', cpuSeconds: serviceCpuSeconds(apiPass) });
}

async function measure<T extends { latencyMs: number }>(
  processes: ProcessSet,
  registryRequests: RegistryRequestCounter,
  count: number,
  concurrency: number,
  task: (index: number) => Promise<T>,
): Promise<Pass & { samples: T[] }> {
  registryRequests.start();
  const before = await cpuSnapshot(processes);
  const started = performance.now();
  const samples = await runPool(count, concurrency, task);
  const wallMs = performance.now() - started;
  const after = await cpuSnapshot(processes);
  return { count, wallMs, latenciesMs: samples.map((s) => s.latencyMs), cpu: { before, after }, registryRequests: registryRequests.count(), samples };
}

const rate = (pass: Pass) => pass.count / (pass.wallMs / 1000);

function report(settings: Settings, componentBytes: number, direct: Pass & { samples: { phases: DirectPhases }[] }, api: Pass & { samples: ApiSample[] }): void {
  heading(
    `publish-throughput: ${settings.count} publishes of hello-http.wasm (${fixed(componentBytes / 1024, 1)} KiB) at concurrency ${settings.concurrency}, after ${settings.warmup} warm-up each`,
  );
  const following =
    settings.wait === 'poll'
      ? `polling GET /v1/jobs/{id} every ${settings.pollMs} ms (${fixed(mean(api.samples.map((s) => s.statusRequests)), 1)} requests per job)`
      : 'GET /v1/jobs/{id}/events (SSE)';
  note(`service: ROLE=all, WORKER_CONCURRENCY=${settings.workerConcurrency}, LOG_LEVEL=warn, PostgreSQL; jobs followed by ${following}`);
  note(`direct: upload + push + sign (classic, bundle) + attach${settings.directVerify ? ' + verify' : ''}, no HTTP/queue/database`);
  const ratio = rate(api) / rate(direct);
  process.stdout.write('\n');
  printTable(
    ['path', 'artifacts', 'wall s', 'artifacts/s', 'p50 ms', 'p99 ms'],
    [
      [
        'direct (in-process)',
        direct.count,
        fixed(direct.wallMs / 1000, 2),
        fixed(rate(direct), 1),
        fixed(percentile(direct.latenciesMs, 50), 0),
        fixed(percentile(direct.latenciesMs, 99), 0),
      ],
      ['API (service)', api.count, fixed(api.wallMs / 1000, 2), fixed(rate(api), 1), fixed(percentile(api.latenciesMs, 50), 0), fixed(percentile(api.latenciesMs, 99), 0)],
      ['ratio API/direct', '', '', fixed(ratio, 2), '', ''],
    ],
  );

  heading("where a job's time goes (API, ms; from the client's clock and the job's step timestamps)");
  const step = (job: JobView, name: string) => job.steps.find((s) => s.name === name);
  const apiPhases: [string, (s: ApiSample) => number][] = [
    ['upload (POST → 202)', (s) => s.uploadMs],
    ['queued → push starts', (s) => between(s.job.createdAt, step(s.job, 'push')?.startedAt)],
    ['push', (s) => between(step(s.job, 'push')?.startedAt, step(s.job, 'push')?.finishedAt)],
    ['push → sign starts', (s) => between(step(s.job, 'push')?.finishedAt, step(s.job, 'sign')?.startedAt)],
    ['sign', (s) => between(step(s.job, 'sign')?.startedAt, step(s.job, 'sign')?.finishedAt)],
    ['sign → verify starts', (s) => between(step(s.job, 'sign')?.finishedAt, step(s.job, 'verify')?.startedAt)],
    ['verify', (s) => between(step(s.job, 'verify')?.startedAt, step(s.job, 'verify')?.finishedAt)],
    ['job ended → client saw it', (s) => s.seenAtEpochMs - Date.parse(s.job.finishedAt ?? '')],
    ['total (client)', (s) => s.latencyMs],
  ];
  printTable(
    ['phase', 'mean', 'p50', 'p99'],
    apiPhases.map(([label, of]) => phaseRow(label, api.samples.map(of))),
  );

  heading("where a publish's time goes (direct, ms)");
  const directPhases: [string, (p: DirectPhases) => number][] = [
    ['upload', (p) => p.upload],
    ['push', (p) => p.push],
    ['sign + attach', (p) => p.sign],
    ['verify', (p) => p.verify],
  ];
  printTable(
    ['phase', 'mean', 'p50', 'p99'],
    [
      ...directPhases.map(([label, of]) =>
        phaseRow(
          label,
          direct.samples.map((s) => of(s.phases)),
        ),
      ),
      phaseRow('total', direct.latenciesMs),
    ],
  );

  heading('registry requests per artifact');
  printTable(
    ['path', 'all', ...METHODS],
    (
      [
        ['direct', direct],
        ['API', api],
      ] as const
    ).map(([label, pass]) => {
      const total = Object.values(pass.registryRequests).reduce((sum, n) => sum + n, 0);
      return [label, fixed(total / pass.count, 1), ...METHODS.map((m) => fixed((pass.registryRequests[m] ?? 0) / pass.count, 1))];
    }),
  );

  heading(`Sigstore calls per artifact (SIGNING_CERTIFICATE_SCOPE=${settings.certificateScope}; the stack's request counts)`);
  printSigstoreCallsPerArtifact(
    [
      { label: 'direct', count: direct.count, calls: direct.sigstoreCalls },
      { label: 'API', count: api.count, calls: api.sigstoreCalls },
    ].flatMap((row) => (row.calls ? [{ ...row, calls: row.calls }] : [])),
  );

  const usage = { direct: cpuUsage(direct.cpu.before, direct.cpu.after), api: cpuUsage(api.cpu.before, api.cpu.after) };
  for (const [label, pass, cpu] of [
    ['direct', direct, usage.direct],
    ['API', api, usage.api],
  ] as const) {
    heading(`CPU during the ${label} run (${fixed(cpu.wallSeconds, 1)} s on ${cpu.machineCores} cores)`);
    printTable(
      ['process', 'CPU s', 'cores', 'CPU ms/artifact'],
      cpu.rows.map((row) => [row.label, fixed(row.seconds, 2), fixed(row.cores, 2), fixed((row.seconds * 1000) / pass.count, 1)]),
    );
  }
  const cpuPerArtifact = { direct: (usage.direct.listedSeconds * 1000) / direct.count, api: (usage.api.listedSeconds * 1000) / api.count };
  process.stdout.write('\n');
  note(
    `CPU per artifact in the processes listed: direct ${fixed(cpuPerArtifact.direct, 0)} ms, API ${fixed(cpuPerArtifact.api, 0)} ms; ` +
      `direct/API ${fixed(cpuPerArtifact.direct / cpuPerArtifact.api, 2)} (the throughput ratio to expect when CPU is the limit and nothing else runs)`,
  );
  noiseWarning([
    { label: 'direct run', otherCores: usage.direct.otherCores },
    { label: 'API run', otherCores: usage.api.otherCores },
  ]);

  heading('verdicts');
  verdict(`API/direct throughput ≥ ${TARGET_RATIO}`, ratio >= TARGET_RATIO, `ratio ${shortfall(ratio, TARGET_RATIO)}`);
  const work = (directWorkCpuSeconds(direct) * 1000) / direct.count;
  const service = (serviceCpuSeconds(api) * 1000) / api.count;
  verdict(
    `service CPU per artifact ≤ ${TARGET_SERVICE_CPU_FACTOR} × the in-process work's`,
    service <= TARGET_SERVICE_CPU_FACTOR * work,
    `service ${fixed(service, 1)} ms, in-process work ${fixed(work, 1)} ms: ${fixed(service / work, 2)} ×` +
      (service <= TARGET_SERVICE_CPU_FACTOR * work ? '' : `, ${fixed(service - TARGET_SERVICE_CPU_FACTOR * work, 1)} ms over`),
  );
}

const SERVICE = 'service (ROLE=all)';
const BENCH_PROCESS = 'bench process (load generator, direct work)';

/** CPU seconds one labelled process used during a pass. */
const processCpuSecondsOf = (pass: Pass, label: string) => cpuUsage(pass.cpu.before, pass.cpu.after).rows.find((row) => row.label === label)?.seconds ?? Number.NaN;
/** The service process's CPU during the API pass. */
const serviceCpuSeconds = (api: Pass) => processCpuSecondsOf(api, SERVICE);
/** This process's CPU during the direct pass: the in-process work (and the few requests of its own loop). */
const directWorkCpuSeconds = (direct: Pass) => processCpuSecondsOf(direct, BENCH_PROCESS);

function phaseRow(label: string, values: number[]): (string | number)[] {
  const known = values.filter(Number.isFinite);
  return [label, fixed(mean(known), 0), fixed(percentile(known, 50), 0), fixed(percentile(known, 99), 0)];
}
