/**
 * faults: each dependency of a job (the registry, Fulcio, Rekor, the TSA) down (connection refused),
 * slow beyond the service's timeout, answering 5xx, and answering 429 with Retry-After; each fault
 * transient (the dependency comes back before the step's attempts are spent: the job must succeed with
 * one signature record per format, one Rekor entry per signature and one job.succeeded callback) and
 * lasting (the job must fail with a code naming the dependency and one job.failed callback). Every
 * dependency is reached through a FaultProxy of this run's own, in front of the private stack, so no
 * other benchmark sees the faults. Prints one `[fault run]` block per case and a table of timings; the
 * run fails (exit status 1) when a case does not behave as expected.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaultProxy } from '../test/support/fault-proxy';
import { sleep } from '../test/support/service-process';
import { WebhookReceiver } from '../test/support/webhook-receiver';
import type { Benchmark, BenchContext } from './support/benchmark';
import { REPO_ROOT } from './support/environment';
import { type JobView, waitForJob } from './support/jobs';
import { heading, note, printTable } from './support/report';
import { ServiceUnderTest } from './support/service';
import { serviceEnvironment, serviceStorage } from './support/service-storage';
import { BenchSettingError, integerSetting } from './support/settings';

const COMPONENT = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));

const DEPENDENCIES = ['registry', 'fulcio', 'rekor', 'tsa'] as const;
const FAULTS = ['down', 'slow', '5xx', '429'] as const;
type Dependency = (typeof DEPENDENCIES)[number];
type Fault = (typeof FAULTS)[number];

/** The code prefix a failure caused by each dependency carries. */
const CODE_PREFIX: Record<Dependency, string> = { registry: 'REGISTRY_', fulcio: 'FULCIO_', rekor: 'REKOR_', tsa: 'TSA_' };
/** How the failure's message names the dependency. */
const NAMED: Record<Dependency, RegExp> = { registry: /registry/i, fulcio: /fulcio/i, rekor: /rekor/i, tsa: /timestamp authority|tsa/i };
/** The codes each fault should end in, when it lasts. */
const LASTING_CODES: Record<Dependency, Record<Fault, string[]>> = {
  registry: { down: ['REGISTRY_UNREACHABLE'], slow: ['REGISTRY_TIMEOUT'], '5xx': ['REGISTRY_UNAVAILABLE'], '429': ['REGISTRY_THROTTLED'] },
  fulcio: { down: ['FULCIO_UNREACHABLE'], slow: ['FULCIO_UNREACHABLE'], '5xx': ['FULCIO_UNAVAILABLE'], '429': ['FULCIO_UNAVAILABLE'] },
  rekor: { down: ['REKOR_UNREACHABLE'], slow: ['REKOR_UNREACHABLE'], '5xx': ['REKOR_UNAVAILABLE'], '429': ['REKOR_UNAVAILABLE'] },
  tsa: { down: ['TSA_UNREACHABLE'], slow: ['TSA_UNREACHABLE'], '5xx': ['TSA_UNAVAILABLE'], '429': ['TSA_UNAVAILABLE'] },
};

/** The requests of the step each dependency's faults aim at. */
const TARGETS: Record<Dependency, { method: string; path?: (repositoryPath: string) => string }> = {
  // The push step's manifest write (the upload before it, to the same registry, is left alone).
  registry: { method: 'PUT', path: (repositoryPath) => `/v2/${repositoryPath}/manifests/` },
  fulcio: { method: 'POST' },
  rekor: { method: 'POST', path: () => '/api/v1/log/entries' },
  tsa: { method: 'POST' },
};

interface Settings {
  attempts: number;
  retryBaseMs: number;
  registryTimeoutMs: number;
  sigstoreTimeoutMs: number;
  /** How long a transient outage lasts. */
  outageMs: number;
  retryAfterSeconds: number;
  jobTimeoutMs: number;
  only: string[];
}

interface Case {
  name: string;
  dependency: Dependency;
  fault: Fault;
  lasting: boolean;
}

interface Outcome {
  name: string;
  pass: boolean;
  state: string;
  code: string;
  seconds: number;
  attempts: number;
  problems: string[];
}

export const faults: Benchmark = {
  name: 'faults',
  summary: 'the registry, Fulcio, Rekor and the TSA each down, slow, 5xx and 429: transient (jobs succeed once) and lasting (jobs fail, naming it)',
  configure() {
    const only = (process.env.BENCH_FAULTS_ONLY ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    const settings: Settings = {
      attempts: integerSetting('BENCH_FAULTS_ATTEMPTS', 4, 2, 20),
      retryBaseMs: integerSetting('BENCH_FAULTS_RETRY_BASE_MS', 500, 10, 60_000),
      registryTimeoutMs: integerSetting('BENCH_FAULTS_REGISTRY_TIMEOUT_MS', 1_500, 100, 60_000),
      sigstoreTimeoutMs: integerSetting('BENCH_FAULTS_SIGSTORE_TIMEOUT_MS', 1_500, 100, 60_000),
      outageMs: integerSetting('BENCH_FAULTS_OUTAGE_MS', 2_000, 0, 60_000),
      retryAfterSeconds: integerSetting('BENCH_FAULTS_RETRY_AFTER_S', 2, 0, 60),
      jobTimeoutMs: integerSetting('BENCH_JOB_TIMEOUT_S', 180, 10, 3_600) * 1000,
      only,
    };
    const cases = matrix(settings);
    if (cases.length === 0) throw new BenchSettingError(`BENCH_FAULTS_ONLY matches no case; cases are named like "rekor 429 transient"`);
    return (context) => run(context, settings, cases);
  },
};

function matrix(settings: Settings): Case[] {
  const cases: Case[] = [];
  for (const dependency of DEPENDENCIES)
    for (const fault of FAULTS)
      for (const lasting of [false, true]) cases.push({ name: `${dependency} ${fault} ${lasting ? 'lasting' : 'transient'}`, dependency, fault, lasting });
  return settings.only.length === 0 ? cases : cases.filter((c) => settings.only.some((pattern) => c.name.includes(pattern)));
}

async function run(context: BenchContext, settings: Settings, cases: Case[]): Promise<void> {
  const { environment: env, cleanup, log } = context;
  const stack = env.stackEnv;
  const proxies = {
    registry: await FaultProxy.start(`http://${env.registryHost}`),
    fulcio: await FaultProxy.start(new URL(stack.SIGSTORE_FULCIO_URL!).origin),
    rekor: await FaultProxy.start(new URL(stack.SIGSTORE_REKOR_URL!).origin),
    tsa: await FaultProxy.start(new URL(stack.SIGSTORE_TSA_URL!).origin),
  } satisfies Record<Dependency, FaultProxy>;
  for (const [name, proxy] of Object.entries(proxies)) cleanup.defer(`stop the ${name} fault proxy`, () => proxy.close());
  const receiver = await WebhookReceiver.start();
  cleanup.defer('stop the webhook receiver', () => receiver.stop());

  const storage = await serviceStorage(cleanup, env, 'faults');
  const callbackSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const base = serviceEnvironment(env, storage, `bench-faults-${randomUUID().slice(0, 8)}`, {
    SIGSTORE_FULCIO_URL: proxies.fulcio.proxied(stack.SIGSTORE_FULCIO_URL!),
    SIGSTORE_REKOR_URL: proxies.rekor.proxied(stack.SIGSTORE_REKOR_URL!),
    SIGSTORE_TSA_URL: proxies.tsa.proxied(stack.SIGSTORE_TSA_URL!),
    REGISTRY_INSECURE_HOSTS: `${stack.REGISTRY_INSECURE_HOSTS},${proxies.registry.host}`,
    REGISTRY_TIMEOUT_MS: String(settings.registryTimeoutMs),
    HTTP_BODY_IDLE_TIMEOUT_MS: String(Math.min(settings.registryTimeoutMs, 20_000)),
    SIGSTORE_TIMEOUT_MS: String(settings.sigstoreTimeoutMs),
    STEP_MAX_ATTEMPTS: String(settings.attempts),
    STEP_RETRY_BASE_MS: String(settings.retryBaseMs),
    WEBHOOK_ALLOWLIST: '127.0.0.1',
    WEBHOOK_CALLBACK_SECRET: callbackSecret,
    WEBHOOK_RETRY_BASE_MS: '200',
  });
  log('faults: starting the API and a worker');
  const api = await ServiceUnderTest.start({ main: env.serviceMain, env: { ...base, ROLE: 'api' } });
  cleanup.defer('stop the API', async () => void (await api.stop()));
  const worker = await ServiceUnderTest.start({ main: env.serviceMain, env: { ...base, ROLE: 'worker', BOOTSTRAP_ADMIN_API_KEY: '' } });
  cleanup.defer('stop the worker', async () => void (await worker.stop()));

  const registryHost = proxies.registry.host;
  const prefix = `bench/faults-${randomUUID().slice(0, 8)}`;
  const headers = { ...api.authorization };
  const treeSize = async () => ((await (await fetch(`${stack.SIGSTORE_REKOR_URL}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
  const publish = async (repository: string, callbackUrl: string) => {
    const query = new URLSearchParams({ repository, tag: 'v1', callbackUrl });
    const response = await fetch(api.url(`/v1/artifacts?${query}`), { method: 'POST', headers: { ...headers, 'content-type': 'application/wasm' }, body: COMPONENT });
    if (response.status !== 202) throw new Error(`POST /v1/artifacts answered ${response.status}: ${await response.text()}`);
    return ((await response.json()) as JobView).id;
  };
  const sign = async (reference: string, callbackUrl: string) => {
    const response = await fetch(api.url('/v1/signatures'), {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ reference, callbackUrl }),
    });
    if (response.status !== 202) throw new Error(`POST /v1/signatures answered ${response.status}: ${await response.text()}`);
    return ((await response.json()) as JobView).id;
  };
  const finished = async (id: string) =>
    (await waitForJob({ baseUrl: api.baseUrl, authorization: headers }, id, { mode: 'poll', pollMs: 200, timeoutMs: settings.jobTimeoutMs })).job;

  // The artifact the Sigstore cases sign, published before any fault.
  log('faults: publishing the artifact the Sigstore cases sign');
  const seed = await finished(await publish(`${registryHost}/${prefix}/seed`, receiver.url('/seed')));
  if (seed.state !== 'succeeded') throw new Error(`the seed publish ${seed.state}: ${JSON.stringify(seed.error)}`);
  const seedReference = seed.result!.reference as string;

  const outcomes: Outcome[] = [];
  for (const [index, testCase] of cases.entries()) {
    log(`faults: ${testCase.name} (${index + 1}/${cases.length})`);
    outcomes.push(await runCase(testCase));
  }

  heading(
    `faults: ${outcomes.filter((o) => o.pass).length}/${outcomes.length} cases as expected (attempts ${settings.attempts}, retry base ${settings.retryBaseMs} ms, registry timeout ${settings.registryTimeoutMs} ms, Sigstore timeout ${settings.sigstoreTimeoutMs} ms)`,
  );
  printTable(
    ['case', 'result', 'job', 'code', 'attempts', 'seconds'],
    outcomes.map((o) => [o.name, o.pass ? 'PASS' : 'FAIL', o.state, o.code, o.attempts, o.seconds.toFixed(1)]),
  );
  for (const failed of outcomes.filter((o) => !o.pass)) note(`FAIL ${failed.name}: ${failed.problems.join('; ')}`);
  if (outcomes.some((o) => !o.pass)) throw new Error(`${outcomes.filter((o) => !o.pass).length} fault case(s) did not behave as expected`);

  async function runCase({ name, dependency, fault, lasting }: Case): Promise<Outcome> {
    const proxy = proxies[dependency];
    const callbackPath = `/${name.replaceAll(' ', '-')}`;
    const repositoryPath = `${prefix}/${name.replaceAll(' ', '-')}`;
    const target = TARGETS[dependency];
    const match = { method: target.method, ...(target.path ? { path: target.path(repositoryPath) } : {}) };
    const timeoutMs = dependency === 'registry' ? settings.registryTimeoutMs : settings.sigstoreTimeoutMs;
    // sigstore-js tries a request three times by itself: a transient fault outlasts that, so the step is retried.
    const transientCount = dependency === 'registry' ? 1 : 3;
    const count = lasting ? 100_000 : transientCount;
    let injected: string;
    let outage: Promise<void> | undefined;
    let restoreTimer: NodeJS.Timeout | undefined;
    const where = `${match.method} ${match.path ?? '(any path)'}`;
    switch (fault) {
      case 'down':
        outage = proxy.goDownOn(match).then(() => {
          if (!lasting) restoreTimer = setTimeout(() => void proxy.up(), settings.outageMs);
        });
        injected = `${dependency} refuses connections from the first ${where}${lasting ? ' on' : ` for ${settings.outageMs} ms`}`;
        break;
      case 'slow':
        proxy.inject({ ...match, delayMs: timeoutMs * 3, count });
        injected = `${dependency} answers ${lasting ? 'every' : `${count}`} ${where} after ${timeoutMs * 3} ms (timeout ${timeoutMs} ms), then handles it`;
        break;
      case '5xx':
        proxy.inject({ ...match, status: 503, count });
        injected = `${dependency} answers ${lasting ? 'every' : `${count}`} ${where} with 503`;
        break;
      case '429':
        proxy.inject({ ...match, status: 429, retryAfterSeconds: settings.retryAfterSeconds, count });
        injected = `${dependency} answers ${lasting ? 'every' : `${count}`} ${where} with 429, Retry-After: ${settings.retryAfterSeconds}`;
        break;
    }
    const sizeBefore = await treeSize();
    const started = performance.now();
    const id = dependency === 'registry' ? await publish(`${registryHost}/${repositoryPath}`, receiver.url(callbackPath)) : await sign(seedReference, receiver.url(callbackPath));
    const job = await finished(id);
    const seconds = (performance.now() - started) / 1000;
    // The dependency back, and every late request handled, before anything is counted.
    clearTimeout(restoreTimer);
    proxy.clear();
    await proxy.up();
    await proxy.settled();
    void outage;
    const callbacks = await waitForCallbacks(receiver, callbackPath);
    const types = callbacks.map((c) => (JSON.parse(c.body) as { type: string }).type);
    const records = await storage.database.query<{ format: string }>('select format from signatures where job_id = $1 order by format', [id]);
    const formats = records.map((r) => r.format);
    const entries = (await treeSize()) - sizeBefore;
    const step = job.steps.find((s) => s.state !== 'succeeded') ?? job.steps.find((s) => s.name === (dependency === 'registry' ? 'push' : 'sign'));

    const problems: string[] = [];
    let expected: string;
    if (!lasting) {
      expected = `job succeeded after a retry, 1 signature record per format, as many Rekor entries as signatures, 1 job.succeeded callback`;
      if (job.state !== 'succeeded') problems.push(`job ${job.state} ${JSON.stringify(job.error)}`);
      if (JSON.stringify(formats) !== JSON.stringify(['cosign-classic', 'sigstore-bundle'])) problems.push(`signature records ${JSON.stringify(formats)}`);
      if (entries !== formats.length) problems.push(`${entries} Rekor entries for ${formats.length} signatures`);
      if (JSON.stringify(types) !== JSON.stringify(['job.succeeded'])) problems.push(`callbacks ${JSON.stringify(types)}`);
      if (fault === '429') {
        expected += `, the retry not before Retry-After (${settings.retryAfterSeconds} s)`;
        if (seconds < settings.retryAfterSeconds) problems.push(`succeeded in ${seconds.toFixed(1)} s, before the ${settings.retryAfterSeconds} s of Retry-After`);
      }
    } else {
      const codes = LASTING_CODES[dependency][fault];
      expected = `job failed with ${codes.join(' or ')} naming ${dependency} after ${settings.attempts} attempts, no signature record, 1 job.failed callback`;
      if (job.state !== 'failed') problems.push(`job ${job.state}`);
      if (!job.error || !codes.includes(job.error.code)) problems.push(`error ${JSON.stringify(job.error)}`);
      if (job.error && !job.error.code.startsWith(CODE_PREFIX[dependency])) problems.push(`code ${job.error.code} does not name ${dependency}`);
      if (job.error && !NAMED[dependency].test(job.error.message)) problems.push(`message does not name ${dependency}`);
      if (step?.attempts !== settings.attempts) problems.push(`${step?.name} step made ${step?.attempts} attempts`);
      if (formats.length > 0) problems.push(`signature records ${JSON.stringify(formats)}`);
      // A Rekor slow beyond the timeout logs the signature after all: the retries resubmit that one
      // signature (409), so at most one entry, which no record uses. Every other fault logs nothing.
      const orphans = dependency === 'rekor' && fault === 'slow' ? 1 : 0;
      expected += `, at most ${orphans} Rekor entr${orphans === 1 ? 'y' : 'ies'}`;
      if (entries > orphans) problems.push(`${entries} Rekor entries for a job that attached no signature`);
      if (JSON.stringify(types) !== JSON.stringify(['job.failed'])) problems.push(`callbacks ${JSON.stringify(types)}`);
    }
    const saw =
      `job ${job.state} in ${seconds.toFixed(1)} s${job.error ? ` with ${job.error.code} (${job.error.step}): ${truncate(job.error.message, 160)}` : ''}; ` +
      `steps ${job.steps.map((s) => `${s.name} ${s.state}×${s.attempts}`).join(', ')}; records ${JSON.stringify(formats)}; Rekor entries +${entries}; callbacks ${JSON.stringify(types)}`;
    const pass = problems.length === 0;
    process.stdout.write(`[fault run] ${name}\n  injected: ${injected}\n  expected: ${expected}\n  saw:      ${saw}\n  ${pass ? 'PASS' : `FAIL (${problems.join('; ')})`}\n`);
    return { name, pass, state: job.state, code: job.error?.code ?? '-', seconds, attempts: step?.attempts ?? 0, problems };
  }
}

/** The callbacks of one path, once the first came and a moment passed without another (a repeat would show). */
async function waitForCallbacks(receiver: WebhookReceiver, path: string) {
  const deadline = Date.now() + 20_000;
  while (receiver.on(path).length === 0 && Date.now() < deadline) await sleep(100);
  await sleep(1_000);
  return receiver.on(path);
}

const truncate = (text: string, length: number) => (text.length > length ? `${text.slice(0, length)}…` : text);
