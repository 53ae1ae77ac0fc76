/**
 * verify-throughput: verifications per second through POST /v1/verifications at a fixed concurrency,
 * with p50/p99 latency, for artifacts the service has never verified (cold: every signature goes
 * through sigstore-js), for the same artifacts again (warm: answered from the verdict cache) and again
 * with `maxAge: 0` (live: the discovery in the registry repeated, the outcomes memoized by content). The baseline, in the same run, is sigstore-js
 * verifying the very same bundles in this process: the rate of pure verification work on this machine.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { type TrustMaterial, type VerificationPolicy, Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import {
  ArtifactVerifier,
  type DiscoveredSignature,
  type OciRepository,
  type RegistryClient,
  discoverSignatures,
  loadTrustRoot,
  parseRepository,
  verificationPolicy,
} from '../src/index';
import type { Benchmark, BenchContext } from './support/benchmark';
import { type ProfileWindow, monotonicMicros, reportCpuProfile } from './support/cpu-profile';
import { serviceEnvironment, serviceStorage } from './support/service-storage';
import { REPO_ROOT } from './support/environment';
import { JsonClient } from './support/http-json';
import { type JobView, waitForJob } from './support/jobs';
import { runPool, runPoolFor } from './support/pool';
import { type CpuSnapshot, type CpuUsage, type ProcessSet, cpuSnapshot, cpuUsage, processMemory } from './support/proc';
import { benchRegistryClient } from './support/registry';
import { RegistryRequestCounter } from './support/registry-log';
import { heading, noiseWarning, note, printTable, verdict } from './support/report';
import { ServiceUnderTest } from './support/service';
import { booleanSetting, integerSetting } from './support/settings';
import { MiB, fixed, percentile, shortfall } from './support/stats';

const COMPONENT = join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm');

/** Targets: cold API verification at least 0.8 × in-process sigstore-js (signatures/s); 1,000 warm verifications/s. */
const TARGET_COLD_RATIO = 0.8;
const TARGET_WARM_RATE = 1_000;

/** Every artifact is signed in both formats: one API verification verifies this many signatures. */
const SIGNATURES_PER_ARTIFACT = 2;
const METHODS = ['GET', 'HEAD'] as const;

interface Settings {
  artifacts: number;
  warmup: number;
  concurrency: number;
  warmRequests: number;
  warmMaxMs: number;
  setupConcurrency: number;
  jobTimeoutMs: number;
  requestTimeoutMs: number;
  discovery: boolean;
  cpuProfile: boolean;
}

/** A published, signed artifact and the signatures found for it in the registry. */
interface Artifact {
  index: number;
  repo: OciRepository;
  digest: string;
  /** host:port/repo@sha256:… */
  reference: string;
  signatures: DiscoveredSignature[];
}

/** One measured pass. `count` verifications (of an artifact: 2 signatures each), with their latencies. */
interface Pass {
  label: string;
  count: number;
  signatures: number;
  wallMs: number;
  latenciesMs: number[];
  cpu: CpuUsage;
  /** Requests the registry served during the pass, by method (undefined: not counted). */
  registryRequests?: Record<string, number>;
  window: ProfileWindow;
  /** The service's resident memory (API passes): at the start, the highest sampled, at the end. */
  serviceRss?: { start: number; peak: number; end: number };
}

export const verifyThroughput: Benchmark = {
  name: 'verify-throughput',
  summary: 'POST /v1/verifications/s, cold (fresh memo) vs. in-process sigstore-js on the same bundles; warm (cache hits) and live (maxAge 0)',
  configure() {
    const settings: Settings = {
      artifacts: integerSetting('BENCH_VERIFY_ARTIFACTS', 40, 1, 10_000),
      warmup: integerSetting('BENCH_VERIFY_WARMUP', 8, 0, 1_000),
      concurrency: integerSetting('BENCH_VERIFY_CONCURRENCY', 16, 1, 1_000),
      warmRequests: integerSetting('BENCH_VERIFY_WARM_REQUESTS', 5_000, 1, 10_000_000),
      warmMaxMs: integerSetting('BENCH_VERIFY_WARM_MAX_S', 20, 1, 3_600) * 1000,
      setupConcurrency: integerSetting('BENCH_VERIFY_SETUP_CONCURRENCY', 8, 1, 1_000),
      jobTimeoutMs: integerSetting('BENCH_JOB_TIMEOUT_S', 120, 1, 3_600) * 1000,
      requestTimeoutMs: integerSetting('BENCH_VERIFY_REQUEST_TIMEOUT_S', 60, 1, 3_600) * 1000,
      discovery: booleanSetting('BENCH_VERIFY_DISCOVERY', true),
      cpuProfile: booleanSetting('BENCH_CPU_PROF', false),
    };
    return (context) => run(context, settings);
  },
};

async function run(context: BenchContext, settings: Settings): Promise<void> {
  const { environment: env, cleanup, log } = context;
  const runId = randomUUID().slice(0, 8);
  const storage = await serviceStorage(cleanup, env, 'verify');
  const { database } = storage;
  const serviceEnv = (phase: string) => serviceEnvironment(env, storage, `bench-${runId}-${phase}`, { WORKER_CONCURRENCY: '16' });

  // ── Setup: publish and sign K + W artifacts through the API, with a service that is then stopped ──
  const total = settings.warmup + settings.artifacts;
  log(`setup: publishing ${total} artifacts through the API (concurrency ${settings.setupConcurrency})`);
  const setupService = await ServiceUnderTest.start({ main: env.serviceMain, env: serviceEnv('setup') });
  const stopSetup = cleanup.mark();
  cleanup.defer('stop the setup service', async () => void (await setupService.stop()));
  const component = readFileSync(COMPONENT);
  const published = await runPool(total, settings.setupConcurrency, (i) =>
    publish(setupService, component, `${env.registryHost}/bench/verify-${runId}/artifact-${i}`, i, settings.jobTimeoutMs),
  );
  await cleanup.unwind(stopSetup);
  const digests = new Set(published.map((p) => p.digest));
  if (digests.size !== published.length) throw new Error(`the ${published.length} artifacts have only ${digests.size} distinct digests`);
  const identity = published[0]!.identity;
  const issuer = published[0]!.issuer;
  if (published.some((p) => p.identity !== identity || p.issuer !== issuer)) throw new Error('the artifacts were signed by different identities');
  if (env.stackEnv.LOCAL_CERTIFICATE_IDENTITY && env.stackEnv.LOCAL_CERTIFICATE_IDENTITY !== identity) {
    log(`note: signed as ${identity}, the stack announces ${env.stackEnv.LOCAL_CERTIFICATE_IDENTITY}`);
  }

  // The signatures exactly as the service finds them: the `.sig` layer rebuilt as a bundle (with its
  // payload, the bytes it signs), the referrer's bundle document.
  const registry = benchRegistryClient(env.stackEnv);
  const counted = countingRegistryClient(env.stackEnv);
  const artifacts: Artifact[] = await runPool(published.length, 8, async (i) => {
    const { repo, digest } = published[i]!;
    const signatures = await discoverSignatures(registry, repo, digest);
    const formats = signatures.map((s) => s.format).sort();
    if (signatures.some((s) => s.unreadable) || formats.join() !== 'cosign-classic,sigstore-bundle') {
      throw new Error(
        `artifact ${i} (${digest}): expected one cosign-classic and one sigstore-bundle signature, found ${JSON.stringify(signatures.map((s) => ({ format: s.format, unreadable: s.unreadable })))}`,
      );
    }
    return { index: i, repo, digest, reference: `${repo.registry}/${repo.repository}@${digest}`, signatures };
  });
  const warmupArtifacts = artifacts.slice(0, settings.warmup);
  const measured = artifacts.slice(settings.warmup);

  const baseProcesses: ProcessSet = {
    'bench process (load generator, in-process work)': process.pid,
    registry: env.pids.registry,
    'stack (Fulcio, Rekor, TSA, OIDC)': async () => env.pids.stack,
    'Redis (shared)': async () => env.pids.redis,
  };
  const registryRequests = new RegistryRequestCounter(env.registryLog);

  // ── Baseline: sigstore-js on the same bundles, in this process ──
  const trustMaterial = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(readFileSync(env.stackEnv.SIGSTORE_TRUSTED_ROOT_FILE!, 'utf8'))));
  const policy: VerificationPolicy = { subjectAlternativeName: identity, extensions: { issuer } };
  log(`baseline: sigstore-js in-process, ${warmupArtifacts.length * SIGNATURES_PER_ARTIFACT} warm-up bundles, then ${measured.length * SIGNATURES_PER_ARTIFACT}`);
  for (const artifact of warmupArtifacts) verifyInProcess(artifact, trustMaterial, policy);
  const baseline = await measure('in-process sigstore-js (baseline)', baseProcesses, undefined, measured.length, async () => {
    const latencies: number[] = [];
    for (const artifact of measured) {
      const started = performance.now();
      verifyInProcess(artifact, trustMaterial, policy);
      latencies.push(performance.now() - started);
    }
    return latencies;
  });

  // ── Reference: the service's own per-signature decision (ArtifactVerifier: its checks around sigstore-js,
  // memo key, signed claims) on the same signatures, in this process, with a fresh memo ──
  const serviceTrust = await loadTrustRoot({ file: env.stackEnv.SIGSTORE_TRUSTED_ROOT_FILE! });
  const artifactPolicy = verificationPolicy({ certificateIdentity: identity, certificateOidcIssuer: issuer });
  const decide = async (verifier: ArtifactVerifier, artifact: Artifact) => {
    for (const signature of artifact.signatures) {
      const verdict = await verifier.verdict(signature, artifact.digest, artifactPolicy, serviceTrust);
      if (!verdict.verified) throw new Error(`${artifact.reference} ${signature.format}: ${verdict.error?.code} ${verdict.error?.message}`);
    }
  };
  log("reference: the service's ArtifactVerifier in-process on the same signatures");
  const warmupVerifier = new ArtifactVerifier();
  for (const artifact of warmupArtifacts) await decide(warmupVerifier, artifact);
  const verifier = new ArtifactVerifier();
  const decision = await measure('in-process ArtifactVerifier (reference)', baseProcesses, undefined, measured.length, async () => {
    const latencies: number[] = [];
    for (const artifact of measured) {
      const started = performance.now();
      await decide(verifier, artifact);
      latencies.push(performance.now() - started);
    }
    return latencies;
  });

  // ── Reference: the registry reads of a verification alone, in this process, with the service's client ──
  let discovery: Pass | undefined;
  let discoveryRequests: Map<string, number> | undefined;
  if (settings.discovery) {
    log(`reference: signature discovery alone, up to ${settings.warmRequests} at concurrency ${settings.concurrency}`);
    await runPool(measured.length, settings.concurrency, (i) => discoverSignatures(registry, measured[i]!.repo, measured[i]!.digest));
    // What one discovery asks the registry, counted at the client (the registry's log leaves out the 404 of an unknown route).
    await discoverSignatures(counted.client, measured[0]!.repo, measured[0]!.digest);
    discoveryRequests = counted.requests;
    discovery = await measure('in-process discovery only (reference)', baseProcesses, registryRequests, 0, async () => {
      const results = await runPoolFor(settings.warmRequests, settings.concurrency, settings.warmMaxMs, async (i) => {
        const artifact = measured[i % measured.length]!;
        const started = performance.now();
        const found = await discoverSignatures(registry, artifact.repo, artifact.digest);
        if (found.length !== SIGNATURES_PER_ARTIFACT) throw new Error(`discovery of ${artifact.reference} found ${found.length} signatures`);
        return performance.now() - started;
      });
      return results;
    });
  }

  // ── The API: a fresh service process, so that its memo is empty ──
  const profileDir = settings.cpuProfile ? mkdtempSync(join(tmpdir(), 'wasm-signer-bench-profile-')) : undefined;
  log('starting a fresh service for the measurement');
  const service = await ServiceUnderTest.start({ main: env.serviceMain, env: serviceEnv('verify'), cpuProfileDir: profileDir });
  cleanup.defer('stop the service', async () => void (await service.stop()));
  const client = new JsonClient(service.baseUrl, settings.concurrency, service.authorization);
  cleanup.defer('close the HTTP client', async () => client.close());
  /** One POST /v1/verifications; `maxAge: 0` asks for a live check (no cached verdict, every signature discovered and judged again). */
  const verifyThroughApi = async (artifact: Artifact, maxAge?: number, expectFromCache?: boolean): Promise<number> => {
    const started = performance.now();
    const answer = await client.post(
      '/v1/verifications',
      { reference: artifact.reference, policy: { certificateIdentity: identity, certificateOidcIssuer: issuer }, ...(maxAge === undefined ? {} : { maxAge }) },
      settings.requestTimeoutMs,
    );
    const latency = performance.now() - started;
    const body = answer.body as { verified?: boolean; fromCache?: boolean; signatures?: { format: string; verified: boolean }[] };
    if (answer.status !== 200 || body.verified !== true || body.signatures?.length !== SIGNATURES_PER_ARTIFACT || !body.signatures.every((s) => s.verified)) {
      throw new Error(`POST /v1/verifications of ${artifact.reference} answered HTTP ${answer.status}: ${answer.text.slice(0, 2_000)}\n${service.logTail}`);
    }
    if (expectFromCache !== undefined && body.fromCache !== expectFromCache) {
      throw new Error(
        `POST /v1/verifications of ${artifact.reference}${maxAge === undefined ? '' : ` (maxAge ${maxAge})`} answered fromCache ${body.fromCache}, expected ${expectFromCache}`,
      );
    }
    return latency;
  };
  const apiProcesses: ProcessSet = {
    ...baseProcesses,
    'service (ROLE=all)': service.pid,
    "PostgreSQL (backends of the run's database)": () => database.backendPids(),
  };

  log(`API: ${warmupArtifacts.length} warm-up verifications (other artifacts; loads the trust root), then ${measured.length} cold at concurrency ${settings.concurrency}`);
  await runPool(warmupArtifacts.length, settings.concurrency, (i) => verifyThroughApi(warmupArtifacts[i]!));
  const cold = await withServiceRss(service.pid, () =>
    measure('API cold (each artifact once, fresh memo)', apiProcesses, registryRequests, measured.length, () =>
      runPool(measured.length, settings.concurrency, (i) => verifyThroughApi(measured[i]!)),
    ),
  );
  log(`API: up to ${settings.warmRequests} warm verifications (at most ${settings.warmMaxMs / 1000} s) at concurrency ${settings.concurrency}`);
  const warm = await withServiceRss(service.pid, () =>
    measure('API warm (same artifacts again)', apiProcesses, registryRequests, 0, () =>
      runPoolFor(settings.warmRequests, settings.concurrency, settings.warmMaxMs, (i) => verifyThroughApi(measured[i % measured.length]!, undefined, true)),
    ),
  );
  log(`API: up to ${settings.warmRequests} live verifications (maxAge 0) (at most ${settings.warmMaxMs / 1000} s) at concurrency ${settings.concurrency}`);
  const live = await withServiceRss(service.pid, () =>
    measure('API live (same artifacts, maxAge 0)', apiProcesses, registryRequests, 0, () =>
      runPoolFor(settings.warmRequests, settings.concurrency, settings.warmMaxMs, (i) => verifyThroughApi(measured[i % measured.length]!, 0, false)),
    ),
  );

  client.close();
  const exitCode = await service.stop();
  if (exitCode !== 0) log(`the service exited with ${exitCode}:\n${service.logTail}`);

  report(settings, identity, { baseline, decision, cold, warm, live, discovery }, discoveryRequests);
  if (profileDir) {
    reportCpuProfile(profileDir, [cold.window], 'the cold pass');
    reportCpuProfile(profileDir, [warm.window], 'the warm pass');
    reportCpuProfile(profileDir, [live.window], 'the live pass');
  }
}

/** Runs a pass while sampling the service's VmRSS every 100 ms. */
async function withServiceRss(pid: number, pass: () => Promise<Pass>): Promise<Pass> {
  const rss = () => processMemory(pid)?.rss ?? Number.NaN;
  const start = rss();
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, rss())), 100);
  try {
    const result = await pass();
    const end = rss();
    return { ...result, serviceRss: { start, peak: Math.max(peak, end), end } };
  } finally {
    clearInterval(timer);
  }
}

/** POST /v1/artifacts with a distinct annotation (so a digest of its own), then the job until it succeeded. */
async function publish(service: ServiceUnderTest, component: Buffer, repository: string, index: number, timeoutMs: number) {
  const query = new URLSearchParams({ repository, tag: 'v1.0.0', 'annotation.bench.index': String(index) });
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
  const result = job.result as { manifestDigest?: string; signatures?: { format: string; identity: string; issuer: string }[] } | null;
  const signatures = result?.signatures ?? [];
  if (!result?.manifestDigest || signatures.length !== SIGNATURES_PER_ARTIFACT)
    throw new Error(`job ${job.id} has no manifest digest or not 2 signatures: ${JSON.stringify(result)}`);
  return { repo: parseRepository(repository), digest: result.manifestDigest, identity: signatures[0]!.identity, issuer: signatures[0]!.issuer };
}

/** The service's registry client with a fetch that counts requests by method, kind and status. */
function countingRegistryClient(stackEnv: Record<string, string>): { client: RegistryClient; requests: Map<string, number> } {
  const requests = new Map<string, number>();
  const kindOf = (url: URL): string => {
    const path = url.pathname;
    if (path.includes('/referrers/')) return 'referrers API';
    if (path.includes('/blobs/')) return 'blob';
    const reference = path.slice(path.lastIndexOf('/manifests/') + '/manifests/'.length);
    if (reference.endsWith('.sig')) return '.sig manifest';
    if (reference.startsWith('sha256-')) return 'referrers fallback tag';
    if (reference.startsWith('sha256:')) return 'referrer manifest';
    return 'manifest';
  };
  const client = benchRegistryClient(stackEnv, async (input, init) => {
    const response = await fetch(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    const key = `${init?.method ?? 'GET'} ${kindOf(url)} ${response.status}`;
    requests.set(key, (requests.get(key) ?? 0) + 1);
    return response;
  });
  return { client, requests };
}

/** Both signatures of an artifact with sigstore-js, as the service hands them to it. Throws when one does not verify. */
function verifyInProcess(artifact: Artifact, material: TrustMaterial, policy: VerificationPolicy): void {
  for (const signature of artifact.signatures) {
    new Verifier(material).verify(toSignedEntity(bundleFromJSON(signature.bundle), signature.format === 'cosign-classic' ? signature.payload : undefined), policy);
  }
}

/**
 * Runs a pass between two CPU snapshots (and registry log marks). `count` is the number of
 * verifications when known in advance; 0 takes it from the latencies returned.
 */
async function measure(label: string, processes: ProcessSet, registryRequests: RegistryRequestCounter | undefined, count: number, pass: () => Promise<number[]>): Promise<Pass> {
  registryRequests?.start();
  const before: CpuSnapshot = await cpuSnapshot(processes);
  const windowStart = monotonicMicros();
  const started = performance.now();
  const latenciesMs = await pass();
  const wallMs = performance.now() - started;
  const window: ProfileWindow = [windowStart, monotonicMicros()];
  const after = await cpuSnapshot(processes);
  const n = count || latenciesMs.length;
  return { label, count: n, signatures: n * SIGNATURES_PER_ARTIFACT, wallMs, latenciesMs, cpu: cpuUsage(before, after), registryRequests: registryRequests?.count(), window };
}

const perSecond = (pass: Pass, what: number) => what / (pass.wallMs / 1000);

function report(
  settings: Settings,
  identity: string,
  passes: { baseline: Pass; decision: Pass; cold: Pass; warm: Pass; live: Pass; discovery?: Pass },
  discoveryRequests?: Map<string, number>,
): void {
  const { baseline, decision, cold, warm, live, discovery } = passes;
  const cores = availableParallelism();
  heading(
    `verify-throughput: ${settings.artifacts} artifacts (hello-http.wasm, one digest each), ${SIGNATURES_PER_ARTIFACT} signatures each (cosign classic .sig layer + Sigstore bundle referrer), concurrency ${settings.concurrency}`,
  );
  note(`policy: certificateIdentity ${identity}, its issuer; trust root "default" (the stack's trusted_root.json)`);
  note(`API: a fresh service process (ROLE=all); ${settings.warmup} other artifacts verified first (trust root loaded, code warm); the measured ones never before`);
  note('baseline: new Verifier(toTrustMaterial(root)).verify(toSignedEntity(bundleFromJSON(json), payload | undefined), policy), one after the other on this');
  note(`  process's thread, over the same ${baseline.signatures} bundles the service finds (classic rebuilt with its payload, referrer bundle); trust material parsed once`);
  note('rates are compared in signatures/s: one API verification verifies 2 signatures, the baseline verifies both bundles of each artifact');
  process.stdout.write('\n');
  const coldRatio = perSecond(cold, cold.signatures) / perSecond(baseline, baseline.signatures);
  const row = (pass: Pass, latencyLabel = '') => [
    pass.label,
    pass.count,
    pass.signatures,
    fixed(pass.wallMs / 1000, 2),
    fixed(perSecond(pass, pass.count), 1),
    fixed(perSecond(pass, pass.signatures), 1),
    fixed(percentile(pass.latenciesMs, 50), 1) + latencyLabel,
    fixed(percentile(pass.latenciesMs, 99), 1) + latencyLabel,
  ];
  printTable(
    ['path', 'verifications', 'signatures', 'wall s', 'verifications/s', 'signatures/s', 'p50 ms', 'p99 ms'],
    [
      row(baseline, '*'),
      row(decision, '*'),
      row(cold),
      row(warm),
      row(live),
      ...(discovery ? [row(discovery)] : []),
      ['ratio API cold / in-process', '', '', '', fixed(coldRatio, 2), fixed(coldRatio, 2), '', ''],
    ],
  );
  note('* in-process latency: both signatures of one artifact, sequentially, no queueing; API latency: request to parsed answer at concurrency ' + settings.concurrency);

  const withRss = [cold, warm, live].filter((p) => p.serviceRss);
  if (withRss.length > 0) {
    heading('service resident memory (VmRSS, MiB)');
    printTable(
      ['pass', 'start', 'peak', 'end'],
      withRss.map((p) => [p.label, fixed(p.serviceRss!.start / MiB, 0), fixed(p.serviceRss!.peak / MiB, 0), fixed(p.serviceRss!.end / MiB, 0)]),
    );
  }

  heading('registry requests per verification');
  const counted = [cold, warm, live, ...(discovery ? [discovery] : [])].filter((p) => p.registryRequests);
  printTable(
    ['path', 'all', ...METHODS, 'other'],
    counted.map((pass) => {
      const counts = pass.registryRequests!;
      const all = Object.values(counts).reduce((sum, n) => sum + n, 0);
      const known = METHODS.reduce((sum, m) => sum + (counts[m] ?? 0), 0);
      return [pass.label, fixed(all / pass.count, 1), ...METHODS.map((m) => fixed((counts[m] ?? 0) / pass.count, 1)), fixed((all - known) / pass.count, 1)];
    }),
  );

  if (discoveryRequests) {
    note(
      `one discovery, counted at the client (the service's code path): ${[...discoveryRequests.entries()].map(([what, n]) => `${n} × ${what}`).join(', ')}` +
        ' (the registry log does not count the 404 of the referrers API, a route distribution 2.8 does not have)',
    );
  }

  const all = [baseline, decision, ...(discovery ? [discovery] : []), cold, warm, live];
  for (const pass of all) {
    heading(`CPU during ${pass.label} (${fixed(pass.cpu.wallSeconds, 2)} s on ${pass.cpu.machineCores} cores)`);
    printTable(
      ['process', 'CPU s', 'cores', 'CPU ms/verification'],
      pass.cpu.rows.map((r) => [r.label, fixed(r.seconds, 2), fixed(r.cores, 2), fixed((r.seconds * 1000) / pass.count, 2)]),
    );
  }

  heading('where the time goes');
  const cpuMs = (pass: Pass, label: string) => ((pass.cpu.rows.find((r) => r.label.startsWith(label))?.seconds ?? Number.NaN) * 1000) / pass.count;
  const busyCores = (pass: Pass, label: string) => pass.cpu.rows.find((r) => r.label.startsWith(label))?.cores ?? Number.NaN;
  const readsPer = (pass: Pass) => (pass.registryRequests ? Object.values(pass.registryRequests).reduce((sum, n) => sum + n, 0) / pass.count : Number.NaN);
  const requestsPerDiscovery = discoveryRequests ? [...discoveryRequests.values()].reduce((sum, n) => sum + n, 0) : readsPer(cold);
  const baselineMs = cpuMs(baseline, 'bench process');
  const decisionMs = cpuMs(decision, 'bench process');
  const coldServiceMs = cpuMs(cold, 'service');
  const warmServiceMs = cpuMs(warm, 'service');
  note(
    `cold: the service spent ${fixed(coldServiceMs, 2)} ms of CPU per verification (${fixed(busyCores(cold, 'service'), 2)} cores busy); in this process ` +
      `sigstore-js needs ${fixed(baselineMs, 2)} ms for the same 2 signatures, the service's ArtifactVerifier ${fixed(decisionMs, 2)} ms ` +
      `(difference ${fixed(decisionMs - baselineMs, 2)} ms), and a warm API verification (HTTP, ${requestsPerDiscovery} registry reads, memo hits) costs the service ${fixed(warmServiceMs, 2)} ms`,
  );
  note(
    `cold: ArtifactVerifier + warm request = ${fixed(decisionMs + warmServiceMs, 2)} ms; measured ${fixed(coldServiceMs, 2)} ms, ` +
      `the rest ${fixed(coldServiceMs - decisionMs - warmServiceMs, 2)} ms (${settings.concurrency} requests interleaved, GC; BENCH_CPU_PROF=1 shows where)`,
  );
  note(
    `cold: the registry's ${fixed(cpuMs(cold, 'registry'), 2)} ms and the load generator's ${fixed(cpuMs(cold, 'bench process'), 2)} ms per verification ` +
      `compete with the service for the ${cores} cores; the in-process baseline has a core to itself and no registry reads`,
  );
  const warmTotal = (warm.cpu.listedSeconds * 1000) / warm.count;
  note(
    `warm: the registry spends ${fixed(cpuMs(warm, 'registry') / requestsPerDiscovery, 2)} ms of CPU per request, ${requestsPerDiscovery} requests per verification ` +
      `(distribution 2.8, filesystem storage, one log line per request)`,
  );
  note(
    `warm: CPU per verification: service ${fixed(cpuMs(warm, 'service'), 2)} ms (${fixed(busyCores(warm, 'service'), 2)} cores), registry ${fixed(cpuMs(warm, 'registry'), 2)} ms ` +
      `(${fixed(busyCores(warm, 'registry'), 2)} cores), load generator ${fixed(cpuMs(warm, 'bench process'), 2)} ms; all listed ${fixed(warmTotal, 2)} ms`,
  );
  note(
    `warm: ${TARGET_WARM_RATE}/s on ${cores} cores allows ${fixed((cores * 1000) / TARGET_WARM_RATE, 2)} ms of CPU per verification for all processes together; ` +
      `at ${fixed(warmTotal, 2)} ms the machine tops out near ${fixed((cores * 1000) / warmTotal, 0)}/s`,
  );
  if (discovery) {
    note(
      `warm: the registry reads alone (discovery in-process, same client) reach ${fixed(perSecond(discovery, discovery.count), 0)}/s; ` +
        `the API warm path reaches ${fixed((perSecond(warm, warm.count) / perSecond(discovery, discovery.count)) * 100, 0)}% of that`,
    );
  }
  for (const pass of [warm, live]) {
    note(
      `${pass === warm ? 'warm (cache hits)' : 'live (maxAge 0)'}: ${fixed(perSecond(pass, pass.count), 0)}/s, p50 ${fixed(percentile(pass.latenciesMs, 50), 1)} ms, ` +
        `p99 ${fixed(percentile(pass.latenciesMs, 99), 1)} ms; CPU per verification: service ${fixed(cpuMs(pass, 'service'), 2)} ms, ` +
        `PostgreSQL backends ${fixed(cpuMs(pass, 'PostgreSQL'), 2)} ms, Redis ${fixed(cpuMs(pass, 'Redis'), 2)} ms, registry ${fixed(cpuMs(pass, 'registry'), 2)} ms`,
    );
  }
  noiseWarning(all.map((pass) => ({ label: pass.label, otherCores: pass.cpu.otherCores })));

  heading('verdicts');
  verdict(
    `API cold / in-process sigstore-js verification rate (signatures/s) ≥ ${TARGET_COLD_RATIO}`,
    coldRatio >= TARGET_COLD_RATIO,
    `${fixed(perSecond(cold, cold.signatures), 1)} vs ${fixed(perSecond(baseline, baseline.signatures), 1)} signatures/s, ratio ${shortfall(coldRatio, TARGET_COLD_RATIO)}`,
  );
  const warmRate = perSecond(warm, warm.count);
  verdict(
    `≥ ${TARGET_WARM_RATE} warm verifications/s (cache hits) through the API at concurrency ${settings.concurrency} on this ${cores}-core machine`,
    warmRate >= TARGET_WARM_RATE,
    `${shortfall(warmRate, TARGET_WARM_RATE)}/s, p99 ${fixed(percentile(warm.latenciesMs, 99), 1)} ms; ` +
      `live (maxAge 0) beside it: ${fixed(perSecond(live, live.count), 0)}/s, p50 ${fixed(percentile(live.latenciesMs, 50), 1)} ms, p99 ${fixed(percentile(live.latenciesMs, 99), 1)} ms`,
  );
}
