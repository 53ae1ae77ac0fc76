/**
 * upload-throughput: one large .wasm (100 MiB by default) uploaded through POST /v1/artifacts, which
 * streams it into the registry while inspecting it, against a raw blob push of the same size straight
 * to the same registry with the service's own client, in the same run; and how much the service's
 * resident memory grows while it streams the upload.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRepository } from '../src/index';
import type { Benchmark, BenchContext } from './support/benchmark';
import { type ProfileWindow, monotonicMicros, reportCpuProfile } from './support/cpu-profile';
import { serviceEnvironment, serviceStorage } from './support/service-storage';
import { REPO_ROOT } from './support/environment';
import { postStream } from './support/http-upload';
import { type JobView, waitForJob } from './support/jobs';
import { largeCoreModule } from './support/large-module';
import { type CpuUsage, type ProcessSet, cpuSnapshot, cpuUsage, processMemory } from './support/proc';
import { benchRegistryClient } from './support/registry';
import { heading, noiseWarning, note, printTable, verdict } from './support/report';
import { ServiceUnderTest } from './support/service';
import { booleanSetting, integerSetting } from './support/settings';
import { MiB, fixed, shortfall } from './support/stats';

/** Targets: the API at least 0.8 × the raw push's MiB/s, and the service's RSS growing by less than 64 MiB. */
const TARGET_RATIO = 0.8;
const TARGET_RSS_GROWTH_MIB = 64;

const COMPONENT = join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm');

interface Settings {
  sizeMiB: number;
  /** Size of the chunks the sender produces (fs.createReadStream reads 64 KiB at a time). */
  chunkKiB: number;
  rounds: number;
  rssSampleMs: number;
  timeoutMs: number;
  cpuProfile: boolean;
}

interface Timing {
  seconds: number;
  cpu: CpuUsage;
}

interface ApiTiming extends Timing {
  rssBefore: number;
  rssPeak: number;
}

export const uploadThroughput: Benchmark = {
  name: 'upload-throughput',
  summary: 'MiB/s of a 100 MiB upload through POST /v1/artifacts vs. a raw blob push; service RSS growth',
  configure() {
    const settings: Settings = {
      sizeMiB: integerSetting('BENCH_UPLOAD_MIB', 100, 1, 1_024),
      chunkKiB: integerSetting('BENCH_UPLOAD_CHUNK_KIB', 64, 1, 16_384),
      rounds: integerSetting('BENCH_UPLOAD_ROUNDS', 2, 1, 10),
      rssSampleMs: integerSetting('BENCH_RSS_SAMPLE_MS', 20, 5, 1_000),
      timeoutMs: integerSetting('BENCH_JOB_TIMEOUT_S', 120, 1, 3_600) * 1000,
      cpuProfile: booleanSetting('BENCH_CPU_PROF', false),
    };
    return (context) => run(context, settings);
  },
};

async function run(context: BenchContext, settings: Settings): Promise<void> {
  const { environment: env, cleanup, log } = context;
  const size = settings.sizeMiB * MiB;
  const filler = randomBytes(settings.chunkKiB * 1024);
  const runId = randomUUID().slice(0, 8);
  const repository = (kind: string) => `${env.registryHost}/bench/upload-${runId}/${kind}`;
  const registry = benchRegistryClient(env.stackEnv);

  const storage = await serviceStorage(cleanup, env, 'upload');
  const { database } = storage;
  const profileDir = settings.cpuProfile ? mkdtempSync(join(tmpdir(), 'wasm-signer-bench-profile-')) : undefined;
  const service = await ServiceUnderTest.start({
    main: env.serviceMain,
    env: serviceEnvironment(env, storage, `bench-${runId}`, { MAX_UPLOAD_BYTES: String(Math.max(268_435_456, size + MiB)) }),
    cpuProfileDir: profileDir,
  });
  cleanup.defer('stop the service', async () => void (await service.stop()));
  const processes: ProcessSet = {
    'bench process (sender)': process.pid,
    'service (ROLE=all)': service.pid,
    registry: env.pids.registry,
    "PostgreSQL (backends of the run's database)": () => database.backendPids(),
  };

  const uploadThroughApi = async (kind: string, length: number, body: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<JobView> => {
    const query = new URLSearchParams({ repository: repository(kind), tag: 'v1' });
    const answer = await postStream(service.url(`/v1/artifacts?${query}`), { ...service.authorization, 'content-type': 'application/wasm' }, length, body, settings.timeoutMs);
    if (answer.status !== 202) throw new Error(`POST /v1/artifacts answered HTTP ${answer.status}: ${answer.body}\n${service.logTail}`);
    return JSON.parse(answer.body) as JobView;
  };
  /** The publish job of an upload runs on (push, sign, verify); it is waited for, untimed, so that it does not overlap the next measurement. */
  const settle = async (job: JobView) => {
    const { job: finished } = await waitForJob(service, job.id, { mode: 'poll', pollMs: 100, timeoutMs: settings.timeoutMs });
    if (finished.state !== 'succeeded') throw new Error(`job ${job.id} failed: ${finished.error?.code} ${finished.error?.message}`);
  };

  log('warm-up: a small upload through the API and a small raw push');
  const component = readFileSync(COMPONENT);
  await settle(await uploadThroughApi('warmup-api', component.length, [component]));
  await registry.pushBlobStream(parseRepository(repository('warmup-raw')), largeCoreModule(MiB, filler).chunks());

  const raw: Timing[] = [];
  const api: ApiTiming[] = [];
  const apiWindows: ProfileWindow[] = [];
  const measureRaw = async (round: number) => {
    const module = largeCoreModule(size, filler);
    log(`round ${round + 1}: raw blob push of ${settings.sizeMiB} MiB`);
    const before = await cpuSnapshot(processes);
    const started = performance.now();
    const pushed = await registry.pushBlobStream(parseRepository(repository(`raw-${round}`)), module.chunks());
    const seconds = (performance.now() - started) / 1000;
    const after = await cpuSnapshot(processes);
    if (pushed.size !== size) throw new Error(`the registry took ${pushed.size} of ${size} bytes`);
    raw.push({ seconds, cpu: cpuUsage(before, after) });
  };
  const measureApi = async (round: number) => {
    const module = largeCoreModule(size, filler);
    log(`round ${round + 1}: ${settings.sizeMiB} MiB through POST /v1/artifacts`);
    const memoryBefore = processMemory(service.pid)!;
    let sampledPeak = memoryBefore.rss;
    const sampler = setInterval(() => {
      const now = processMemory(service.pid);
      if (now) sampledPeak = Math.max(sampledPeak, now.rss);
    }, settings.rssSampleMs);
    const before = await cpuSnapshot(processes);
    const started = performance.now();
    const windowStart = monotonicMicros();
    let job: JobView;
    try {
      job = await uploadThroughApi(`api-${round}`, module.size, module.chunks());
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - started) / 1000;
    apiWindows.push([windowStart, monotonicMicros()]);
    const after = await cpuSnapshot(processes);
    const memoryAfter = processMemory(service.pid)!;
    // A high-water mark that rose during the upload is the true peak, even between two samples.
    const peak = Math.max(sampledPeak, memoryAfter.rss, memoryAfter.hwm > memoryBefore.hwm ? memoryAfter.hwm : 0);
    api.push({ seconds, cpu: cpuUsage(before, after), rssBefore: memoryBefore.rss, rssPeak: peak });
    await settle(job);
  };
  for (let round = 0; round < settings.rounds; round++) {
    // Alternate the order, so that neither path always runs on a registry just written to by the other.
    if (round % 2 === 0) {
      await measureRaw(round);
      await measureApi(round);
    } else {
      await measureApi(round);
      await measureRaw(round);
    }
  }

  const exitCode = await service.stop();
  if (exitCode !== 0) log(`the service exited with ${exitCode}:\n${service.logTail}`);
  report(settings, size, raw, api);
  if (profileDir) reportCpuProfile(profileDir, apiWindows, 'the API uploads');
}

function report(settings: Settings, size: number, raw: Timing[], api: ApiTiming[]): void {
  const mibPerSecond = (t: Timing) => size / MiB / t.seconds;
  const overall = (timings: Timing[]) => (timings.length * size) / MiB / timings.reduce((sum, t) => sum + t.seconds, 0);
  const ratio = overall(api) / overall(raw);
  const rounds = raw.map((_, i) => `round ${i + 1}`);

  heading(`upload-throughput: a ${settings.sizeMiB} MiB core module (one custom section), ${settings.rounds} round(s), order alternating`);
  note(`sender: the module streamed in ${settings.chunkKiB} KiB chunks, never held whole`);
  note('raw: RegistryClient.pushBlobStream (POST, PATCH, PUT) from this process; API: POST /v1/artifacts (application/wasm, Content-Length) → 202');
  process.stdout.write('\n');
  printTable(
    ['MiB/s', ...rounds, 'overall'],
    [
      ['raw blob push', ...raw.map((t) => fixed(mibPerSecond(t), 1)), fixed(overall(raw), 1)],
      ['API upload', ...api.map((t) => fixed(mibPerSecond(t), 1)), fixed(overall(api), 1)],
      ['ratio API/raw', ...api.map((t, i) => fixed(mibPerSecond(t) / mibPerSecond(raw[i]!), 2)), fixed(ratio, 2)],
    ],
  );

  heading('service memory during the API upload (MiB; VmRSS sampled every ' + `${settings.rssSampleMs} ms, and VmHWM)`);
  const growth = api.map((t) => (t.rssPeak - t.rssBefore) / MiB);
  printTable(
    ['', ...rounds],
    [
      ['RSS before', ...api.map((t) => fixed(t.rssBefore / MiB, 1))],
      ['peak RSS', ...api.map((t) => fixed(t.rssPeak / MiB, 1))],
      ['growth', ...growth.map((g) => fixed(g, 1))],
    ],
  );

  for (const [label, timings] of [
    ['raw pushes', raw],
    ['API uploads', api],
  ] as const) {
    const seconds = timings.reduce((sum, t) => sum + t.seconds, 0);
    heading(`CPU during the ${label} (${fixed(seconds, 1)} s in all)`);
    const labels = timings[0]!.cpu.rows.map((row) => row.label);
    printTable(
      ['process', 'CPU s', 'cores', 'CPU ms/MiB'],
      labels.map((label) => {
        const cpu = timings.reduce((sum, t) => sum + (t.cpu.rows.find((row) => row.label === label)?.seconds ?? 0), 0);
        return [label, fixed(cpu, 2), fixed(cpu / seconds, 2), fixed((cpu * 1000) / ((timings.length * size) / MiB), 1)];
      }),
    );
  }
  const otherCores = (timings: Timing[]) => timings.reduce((sum, t) => sum + t.cpu.otherCores * t.cpu.wallSeconds, 0) / timings.reduce((sum, t) => sum + t.cpu.wallSeconds, 0);
  noiseWarning([
    { label: 'raw pushes', otherCores: otherCores(raw) },
    { label: 'API uploads', otherCores: otherCores(api) },
  ]);

  heading('verdicts');
  verdict(`API/raw upload throughput ≥ ${TARGET_RATIO}`, ratio >= TARGET_RATIO, `ratio ${shortfall(ratio, TARGET_RATIO)}`);
  const worst = Math.max(...growth);
  verdict(
    `service RSS growth during a ${settings.sizeMiB} MiB upload < ${TARGET_RSS_GROWTH_MIB} MiB`,
    worst < TARGET_RSS_GROWTH_MIB,
    `largest growth ${fixed(worst, 1)} MiB${worst < TARGET_RSS_GROWTH_MIB ? '' : `, ${fixed(worst - TARGET_RSS_GROWTH_MIB, 1)} MiB over`}`,
  );
}
