/**
 * admission: Kubernetes AdmissionReviews per second through POST /v1/admission, each of a Pod running 3
 * signed wasm images named by tag, judged against an ADMISSION_POLICY_FILE that covers them: cold (the
 * first review of each Pod: 3 tags resolved, 3 × 2 signatures discovered in the registry and verified)
 * and warm (the same Pods again: tag resolutions and verdicts from the service's caches) at a fixed
 * concurrency for a fixed time. Printed: reviews/s, p50/p99 latency, CPU per review of each process.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Benchmark, BenchContext } from './support/benchmark';
import { type ProfileWindow, monotonicMicros, reportCpuProfile } from './support/cpu-profile';
import { REPO_ROOT } from './support/environment';
import { JsonClient } from './support/http-json';
import { type JobView, waitForJob } from './support/jobs';
import { runPool, runPoolFor } from './support/pool';
import { type CpuUsage, type ProcessSet, cpuSnapshot, cpuUsage } from './support/proc';
import { RegistryRequestCounter } from './support/registry-log';
import { heading, noiseWarning, note, printTable, verdict } from './support/report';
import { ServiceUnderTest } from './support/service';
import { serviceEnvironment, serviceStorage } from './support/service-storage';
import { booleanSetting, integerSetting } from './support/settings';
import { fixed, percentile, shortfall } from './support/stats';

const COMPONENT = join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm');

/** Target: warm reviews of a Pod with 3 wasm images. */
const TARGET_WARM_RATE = 500;
const IMAGES_PER_POD = 3;
const TAG = 'v1.0.0';

interface Settings {
  coldPods: number;
  concurrency: number;
  warmRequests: number;
  warmMaxMs: number;
  setupConcurrency: number;
  jobTimeoutMs: number;
  requestTimeoutMs: number;
  cpuProfile: boolean;
}

interface Pod {
  /** Image references by tag, as a Pod spec names them. */
  images: string[];
  digests: string[];
}

interface Pass {
  label: string;
  count: number;
  wallMs: number;
  latenciesMs: number[];
  cpu: CpuUsage;
  registryRequests?: Record<string, number>;
  window: ProfileWindow;
}

export const admission: Benchmark = {
  name: 'admission',
  summary: 'POST /v1/admission reviews/s of a Pod with 3 signed wasm images, cold (first review) and warm (verdict cache)',
  configure() {
    const settings: Settings = {
      coldPods: integerSetting('BENCH_ADMISSION_COLD_PODS', 8, 1, 1_000),
      concurrency: integerSetting('BENCH_ADMISSION_CONCURRENCY', 16, 1, 1_000),
      warmRequests: integerSetting('BENCH_ADMISSION_WARM_REQUESTS', 1_000_000, 1, 100_000_000),
      warmMaxMs: integerSetting('BENCH_ADMISSION_WARM_S', 20, 1, 3_600) * 1000,
      setupConcurrency: integerSetting('BENCH_ADMISSION_SETUP_CONCURRENCY', 8, 1, 1_000),
      jobTimeoutMs: integerSetting('BENCH_JOB_TIMEOUT_S', 120, 1, 3_600) * 1000,
      requestTimeoutMs: integerSetting('BENCH_ADMISSION_REQUEST_TIMEOUT_S', 60, 1, 3_600) * 1000,
      cpuProfile: booleanSetting('BENCH_CPU_PROF', false),
    };
    return (context) => run(context, settings);
  },
};

async function run(context: BenchContext, settings: Settings): Promise<void> {
  const { environment: env, cleanup, log } = context;
  const runId = randomUUID().slice(0, 8);
  const storage = await serviceStorage(cleanup, env, 'admission');
  const prefix = `${env.registryHost}/bench/admission-${runId}`;

  // ── Setup: one warm-up Pod and the cold Pods, 3 artifacts each, published and signed through the API ──
  const pods = settings.coldPods + 1;
  const total = pods * IMAGES_PER_POD;
  log(`setup: publishing ${total} artifacts through the API (concurrency ${settings.setupConcurrency})`);
  const setupService = await ServiceUnderTest.start({
    main: env.serviceMain,
    env: serviceEnvironment(env, storage, `bench-${runId}-setup`, { WORKER_CONCURRENCY: '16' }),
  });
  const stopSetup = cleanup.mark();
  cleanup.defer('stop the setup service', async () => void (await setupService.stop()));
  const component = readFileSync(COMPONENT);
  const published = await runPool(total, settings.setupConcurrency, (i) => publish(setupService, component, `${prefix}/app-${i}`, i, settings.jobTimeoutMs));
  await cleanup.unwind(stopSetup);
  const { identity, issuer } = published[0]!;
  if (published.some((p) => p.identity !== identity || p.issuer !== issuer)) throw new Error('the artifacts were signed by different identities');
  const allPods: Pod[] = Array.from({ length: pods }, (_, p) => {
    const members = published.slice(p * IMAGES_PER_POD, (p + 1) * IMAGES_PER_POD);
    return { images: members.map((m) => `${m.repository}:${TAG}`), digests: members.map((m) => m.digest) };
  });
  const [warmupPod, ...coldPods] = allPods as [Pod, ...Pod[]];

  // ── The policy: the run's repositories, signed by the identity the service signs with ──
  const policyDir = mkdtempSync(join(tmpdir(), 'wasm-signer-bench-admission-'));
  cleanup.defer(`remove ${policyDir}`, async () => rmSync(policyDir, { recursive: true, force: true }));
  const policyFile = join(policyDir, 'admission-policy.json');
  writeFileSync(policyFile, JSON.stringify({ images: [{ pattern: `${prefix}/**`, policy: { certificateIdentity: identity, certificateOidcIssuer: issuer } }] }));

  const profileDir = settings.cpuProfile ? mkdtempSync(join(tmpdir(), 'wasm-signer-bench-profile-')) : undefined;
  log('starting a fresh service with ADMISSION_POLICY_FILE for the measurement');
  const service = await ServiceUnderTest.start({
    main: env.serviceMain,
    env: serviceEnvironment(env, storage, `bench-${runId}-admission`, { ADMISSION_POLICY_FILE: policyFile }),
    cpuProfileDir: profileDir,
  });
  cleanup.defer('stop the service', async () => void (await service.stop()));
  const client = new JsonClient(service.baseUrl, settings.concurrency, service.authorization);
  cleanup.defer('close the HTTP client', async () => client.close());

  let uid = 0;
  const review = async (pod: Pod): Promise<number> => {
    const body = podReview(`bench-${++uid}`, pod.images);
    const started = performance.now();
    const answer = await client.post('/v1/admission', body, settings.requestTimeoutMs);
    const latency = performance.now() - started;
    const response = (answer.body as { response?: { uid?: string; allowed?: boolean; warnings?: string[] } }).response;
    // Allowed, and each tag named with the digest it was published as.
    const expected = pod.images.map((image, i) => `${image} is ${image.slice(0, -TAG.length - 1)}@${pod.digests[i]}`);
    if (answer.status !== 200 || response?.uid !== body.request.uid || response.allowed !== true || JSON.stringify(response.warnings) !== JSON.stringify(expected)) {
      throw new Error(`POST /v1/admission answered HTTP ${answer.status}: ${answer.text.slice(0, 2_000)}\n${service.logTail}`);
    }
    return latency;
  };

  const registryRequests = new RegistryRequestCounter(env.registryLog);
  const processes: ProcessSet = {
    'service (ROLE=all)': service.pid,
    registry: env.pids.registry,
    'bench process (load generator)': process.pid,
    'Redis (shared)': async () => env.pids.redis,
    "PostgreSQL (backends of the run's database)": () => storage.database.backendPids(),
  };

  log('warm-up: one review of another Pod (loads the trust root, compiles the code paths)');
  await review(warmupPod);
  const cold = await measure(`cold (${coldPods.length} Pods, each reviewed once)`, processes, registryRequests, () =>
    runPool(coldPods.length, settings.concurrency, (i) => review(coldPods[i]!)),
  );
  log(`warm: reviews of the same ${coldPods.length} Pods for ${settings.warmMaxMs / 1000} s at concurrency ${settings.concurrency}`);
  const warm = await measure('warm (the same Pods again)', processes, registryRequests, () =>
    runPoolFor(settings.warmRequests, settings.concurrency, settings.warmMaxMs, (i) => review(coldPods[i % coldPods.length]!)),
  );

  client.close();
  const exitCode = await service.stop();
  if (exitCode !== 0) log(`the service exited with ${exitCode}:\n${service.logTail}`);

  report(settings, identity, cold, warm);
  if (profileDir) {
    reportCpuProfile(profileDir, [cold.window], 'the cold pass');
    reportCpuProfile(profileDir, [warm.window], 'the warm pass');
  }
}

const podReview = (uid: string, images: readonly string[]) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'bench',
    operation: 'CREATE',
    userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `bench-${uid}`, namespace: 'bench', labels: { app: 'bench' } },
      spec: {
        runtimeClassName: 'wasmtime-spin-v2',
        containers: images.map((image, i) => ({ name: `c${i}`, image, ports: [{ containerPort: 80 }], resources: { limits: { cpu: '100m', memory: '128Mi' } } })),
      },
    },
  },
});

/** POST /v1/artifacts (a distinct annotation: a digest of its own), then the job until it succeeded. */
async function publish(service: ServiceUnderTest, component: Buffer, repository: string, index: number, timeoutMs: number) {
  const query = new URLSearchParams({ repository, tag: TAG, 'annotation.bench.index': String(index) });
  const response = await fetch(service.url(`/v1/artifacts?${query}`), {
    method: 'POST',
    headers: { ...service.authorization, 'content-type': 'application/wasm' },
    body: component,
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (response.status !== 202) throw new Error(`POST /v1/artifacts answered HTTP ${response.status}: ${await response.text()}\n${service.logTail}`);
  const accepted = (await response.json()) as JobView;
  const { job } = await waitForJob(service, accepted.id, { mode: 'sse', pollMs: 100, timeoutMs });
  if (job.state !== 'succeeded') throw new Error(`job ${job.id} failed in step ${job.error?.step ?? '?'}: ${job.error?.code} ${job.error?.message}\n${service.logTail}`);
  const result = job.result as { manifestDigest?: string; signatures?: { identity: string; issuer: string }[] } | null;
  const signer = result?.signatures?.[0];
  if (!result?.manifestDigest || !signer) throw new Error(`job ${job.id} has no manifest digest or no signature: ${JSON.stringify(result)}`);
  return { repository, digest: result.manifestDigest, identity: signer.identity, issuer: signer.issuer };
}

async function measure(label: string, processes: ProcessSet, registryRequests: RegistryRequestCounter, pass: () => Promise<number[]>): Promise<Pass> {
  registryRequests.start();
  const before = await cpuSnapshot(processes);
  const windowStart = monotonicMicros();
  const started = performance.now();
  const latenciesMs = await pass();
  const wallMs = performance.now() - started;
  const window: ProfileWindow = [windowStart, monotonicMicros()];
  const after = await cpuSnapshot(processes);
  return { label, count: latenciesMs.length, wallMs, latenciesMs, cpu: cpuUsage(before, after), registryRequests: registryRequests.count(), window };
}

function report(settings: Settings, identity: string, cold: Pass, warm: Pass): void {
  const cores = availableParallelism();
  const rate = (pass: Pass) => pass.count / (pass.wallMs / 1000);
  heading(
    `admission: AdmissionReviews of a Pod with ${IMAGES_PER_POD} signed wasm images (hello-http.wasm, each its own digest, named by tag), concurrency ${settings.concurrency}`,
  );
  note(`policy: one rule covering the run's repositories, certificateIdentity ${identity} and its issuer; trust root "default" (the stack's)`);
  note('each image is signed in both formats (cosign .sig layer + Sigstore bundle referrer): a cold review resolves 3 tags and verifies 6 signatures');
  note('cold: a fresh service process (one other Pod reviewed first: trust root loaded, code warm); warm: the same Pods again, closed loop for a fixed time');
  process.stdout.write('\n');
  printTable(
    ['pass', 'reviews', 'images', 'wall s', 'reviews/s', 'images/s', 'p50 ms', 'p99 ms', 'registry requests/review', 'service CPU ms/review'],
    [cold, warm].map((pass) => [
      pass.label,
      pass.count,
      pass.count * IMAGES_PER_POD,
      fixed(pass.wallMs / 1000, 2),
      fixed(rate(pass), 1),
      fixed(rate(pass) * IMAGES_PER_POD, 1),
      fixed(percentile(pass.latenciesMs, 50), 2),
      fixed(percentile(pass.latenciesMs, 99), 2),
      fixed(Object.values(pass.registryRequests ?? {}).reduce((sum, n) => sum + n, 0) / pass.count, 2),
      fixed(((pass.cpu.rows.find((r) => r.label.startsWith('service'))?.seconds ?? Number.NaN) * 1000) / pass.count, 3),
    ]),
  );
  if (cold.count < settings.concurrency)
    note(`cold: ${cold.count} Pods at concurrency ${settings.concurrency}: all at once; the rate is that of one burst (BENCH_ADMISSION_COLD_PODS for more)`);
  for (const pass of [cold, warm]) {
    heading(`CPU during ${pass.label} (${fixed(pass.cpu.wallSeconds, 2)} s on ${pass.cpu.machineCores} cores)`);
    printTable(
      ['process', 'CPU s', 'cores', 'CPU ms/review'],
      pass.cpu.rows.map((r) => [r.label, fixed(r.seconds, 2), fixed(r.cores, 2), fixed((r.seconds * 1000) / pass.count, 3)]),
    );
  }
  const warmTotalMs = (warm.cpu.listedSeconds * 1000) / warm.count;
  note(
    `warm: ${TARGET_WARM_RATE}/s on ${cores} cores allows ${fixed((cores * 1000) / TARGET_WARM_RATE, 2)} ms of CPU per review for all processes together; ` +
      `measured ${fixed(warmTotalMs, 2)} ms (all listed processes): the machine tops out near ${fixed((cores * 1000) / warmTotalMs, 0)}/s`,
  );
  noiseWarning([cold, warm].map((pass) => ({ label: pass.label, otherCores: pass.cpu.otherCores })));

  heading('verdicts');
  const warmRate = rate(warm);
  verdict(
    `admission warm ≥ ${TARGET_WARM_RATE}/s`,
    warmRate >= TARGET_WARM_RATE,
    `${shortfall(warmRate, TARGET_WARM_RATE)}/s, Pod with ${IMAGES_PER_POD} wasm images, ${cores}-core machine`,
  );
  note(`cold (no target): ${fixed(rate(cold), 1)} reviews/s, p50 ${fixed(percentile(cold.latenciesMs, 50), 1)} ms, p99 ${fixed(percentile(cold.latenciesMs, 99), 1)} ms`);
}
