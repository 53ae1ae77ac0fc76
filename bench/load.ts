/**
 * load: a sustained mix against one API process and its workers, with webhook deliveries to a loopback
 * receiver: uploads (publish jobs), signs by reference (sign jobs), warm verifications (verdict cache)
 * and live ones (maxAge 0). It runs once per worker count (BENCH_LOAD_WORKERS, default 1 and 2), and
 * again with faults in the middle (a worker SIGKILLed and replaced, Redis restarted), and prints for
 * each: requests/s and latency per kind, failed requests, job latency p50/p99, the RSS and event-loop
 * delay of every process at the start, middle and end, whether the queues drained, and whether every
 * job was notified. Redis is a private one with AOF on (as docker-compose.yml runs it), so that
 * restarting it disturbs nothing else.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PrivateRedis } from '../test/support/private-redis';
import { sleep } from '../test/support/service-process';
import type { Benchmark, BenchContext } from './support/benchmark';
import { REPO_ROOT } from './support/environment';
import { JsonClient } from './support/http-json';
import { type JobView, waitForJob } from './support/jobs';
import { processMemory } from './support/proc';
import { heading, note, printTable, verdict } from './support/report';
import { ServiceUnderTest } from './support/service';
import { BENCH_ADMIN_KEY, serviceEnvironment, serviceStorage } from './support/service-storage';
import { BenchSettingError, booleanSetting, integerSetting } from './support/settings';
import { MiB, fixed, percentile } from './support/stats';

const COMPONENT = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));

interface Settings {
  seconds: number;
  workerCounts: number[];
  faults: boolean;
  jobTimeoutMs: number;
  /** Jobs submitted per second (uploads and signs by reference, half each): an arrival rate, not as fast as accepted. */
  jobsPerSecond: number;
}

type Kind = 'upload' | 'sign' | 'verify-warm' | 'verify-live';
const LOOPS: Record<Kind, number> = { upload: 2, sign: 1, 'verify-warm': 4, 'verify-live': 1 };

interface Sample {
  label: string;
  /** The process sampled: a worker replaced mid-run keeps its label under a new pid. */
  pid: number;
  at: 'start' | 'middle' | 'end';
  rssMiB: number;
  loopDelayP99Ms: number;
}

interface RunResult {
  label: string;
  seconds: number;
  requests: Record<Kind, { ok: number; refused: number; failed: number; latencies: number[] }>;
  failures: string[];
  jobs: { kind: 'publish' | 'sign'; latencyMs: number; state: string }[];
  samples: Sample[];
  drainedMs: number;
  webhooks: { jobsSucceeded: number; notified: number; duplicates: number };
  faults: string[];
}

export const load: Benchmark = {
  name: 'load',
  summary: 'a sustained mix (uploads, signs, warm and live verifications, webhooks) against one API and 1 or 2 workers, then with a worker SIGKILLed and Redis restarted',
  configure() {
    const counts = (process.env.BENCH_LOAD_WORKERS ?? '1,2').split(',').map((value) => Number(value.trim()));
    if (counts.some((count) => !Number.isInteger(count) || count < 1 || count > 8))
      throw new BenchSettingError('BENCH_LOAD_WORKERS: worker counts between 1 and 8, comma-separated');
    const settings: Settings = {
      seconds: integerSetting('BENCH_LOAD_SECONDS', 180, 10, 3_600),
      workerCounts: counts,
      faults: booleanSetting('BENCH_LOAD_FAULTS', true),
      jobTimeoutMs: integerSetting('BENCH_JOB_TIMEOUT_S', 300, 10, 3_600) * 1000,
      jobsPerSecond: integerSetting('BENCH_LOAD_JOBS_PER_SECOND', 4, 1, 1_000),
    };
    return (context) => run(context, settings);
  },
};

async function run(context: BenchContext, settings: Settings): Promise<void> {
  const results: RunResult[] = [];
  for (const faults of settings.faults ? [false, true] : [false]) {
    for (const workers of settings.workerCounts) results.push(await loadRun(context, settings, workers, faults));
  }
  report(results);
}

async function loadRun(context: BenchContext, settings: Settings, workerCount: number, faults: boolean): Promise<RunResult> {
  const { environment: env, cleanup, log } = context;
  const label = `${workerCount} worker${workerCount > 1 ? 's' : ''}${faults ? ', faults' : ''}`;
  log(`load (${label}): starting a private Redis (AOF), the API and ${workerCount} worker(s)`);
  const redis = await PrivateRedis.start();
  cleanup.defer('stop the private redis-server', () => redis.stop());
  const storage = await serviceStorage(cleanup, env, 'load');
  const base = serviceEnvironment(env, storage, `bench-load-${randomUUID().slice(0, 8)}`, {
    REDIS_URL: redis.url,
    WEBHOOK_ALLOWLIST: '127.0.0.1',
    // Subscription secrets are stored encrypted: a key of this run's own.
    SECRET_ENCRYPTION_KEYS: `bench-1:${randomBytes(32).toString('base64')}`,
    WORKER_LOCK_DURATION_MS: '5000',
  });
  const api = await ServiceUnderTest.start({ main: env.serviceMain, env: { ...base, ROLE: 'api' } });
  cleanup.defer('stop the API', async () => void (await api.stop()));
  const startWorker = async () => {
    const worker = await ServiceUnderTest.start({ main: env.serviceMain, env: { ...base, ROLE: 'worker', BOOTSTRAP_ADMIN_API_KEY: '' } });
    cleanup.defer('stop a worker', async () => void (await worker.stop()));
    return worker;
  };
  const workers: ServiceUnderTest[] = [];
  for (let i = 0; i < workerCount; i++) workers.push(await startWorker());
  const receiver = await WebhookCounter.start();
  cleanup.defer('stop the webhook receiver', () => receiver.stop());
  const client = new JsonClient(api.baseUrl, 32, api.authorization);
  // The subscription is the administrator's (the load generator's key may publish, sign and verify).
  const subscribed = await fetch(`${api.baseUrl}/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: receiver.url, events: ['job.succeeded'] }),
  });
  if (subscribed.status !== 201) throw new Error(`POST /v1/webhooks answered ${subscribed.status}: ${await subscribed.text()}`);

  // Seed: signed artifacts for the signs by reference and the verifications.
  const repository = `${env.registryHost}/bench/load-${randomUUID().slice(0, 8)}`;
  const seeded: string[] = [];
  for (let i = 0; i < 4; i++) {
    const id = await upload(api, `${repository}/seed`, `v${i}`);
    const { job } = await waitForJob(api, id, { mode: 'sse', pollMs: 250, timeoutMs: settings.jobTimeoutMs });
    if (job.state !== 'succeeded') throw new Error(`seed job ${id} ${job.state}: ${JSON.stringify(job.error)}`);
    seeded.push(`${repository}/seed:v${i}`);
  }
  const policy = { certificateIdentity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY, certificateOidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL };

  const result: RunResult = {
    label,
    seconds: settings.seconds,
    requests: { upload: tally(), sign: tally(), 'verify-warm': tally(), 'verify-live': tally() },
    failures: [],
    jobs: [],
    samples: [],
    drainedMs: 0,
    webhooks: { jobsSucceeded: 0, notified: 0, duplicates: 0 },
    faults: [],
  };
  const processes = () => [{ label: 'api', service: api }, ...workers.map((service, i) => ({ label: `worker ${i + 1}`, service }))];
  const sample = async (at: Sample['at']) => {
    for (const { label: name, service } of processes()) result.samples.push({ label: name, pid: service.pid, at, ...(await processState(service)) });
  };
  const followed: Promise<void>[] = [];
  const follow = (kind: 'publish' | 'sign', id: string, submittedAt: number) =>
    followed.push(
      waitForJob(api, id, { mode: 'sse', pollMs: 250, timeoutMs: settings.jobTimeoutMs }).then(
        ({ job, seenAt }) =>
          void result.jobs.push({
            kind,
            latencyMs: seenAt - submittedAt,
            state: job.state === 'succeeded' ? job.state : `${job.state} ${id}: ${JSON.stringify((job as { error?: unknown }).error ?? null)}`,
          }),
        (error: unknown) => void result.jobs.push({ kind, latencyMs: Number.NaN, state: `unfinished: ${(error as Error).message}` }),
      ),
    );

  let redisDown = false;
  const requestOnce: Record<Kind, (i: number) => Promise<{ status: number; text: string; body: unknown }>> = {
    upload: async (i) => {
      const response = await fetch(`${api.baseUrl}/v1/artifacts?repository=${encodeURIComponent(`${repository}/up`)}&tag=u${i}`, {
        method: 'POST',
        headers: { ...api.authorization, 'content-type': 'application/wasm' },
        body: COMPONENT,
        signal: AbortSignal.timeout(60_000),
      });
      const text = await response.text();
      return { status: response.status, text, body: safeJson(text) };
    },
    sign: (i) => client.post('/v1/signatures', { reference: seeded[i % seeded.length] }, 60_000),
    'verify-warm': (i) => client.post('/v1/verifications', { reference: seeded[i % seeded.length], policy }, 60_000),
    'verify-live': (i) => client.post('/v1/verifications', { reference: seeded[i % seeded.length], policy, maxAge: 0 }, 60_000),
  };
  const expected: Record<Kind, number> = { upload: 202, sign: 202, 'verify-warm': 200, 'verify-live': 200 };

  log(`load (${label}): ${settings.seconds} s of load`);
  await sample('start');
  const started = performance.now();
  const endAt = started + settings.seconds * 1000;
  let counter = 0;
  // Jobs arrive at a set rate, as a build system's would: submitted as fast as the API accepts them, they
  // would pile up faster than any worker runs them, and latency, memory and the drain would measure
  // only the pile. Verifications (no job) run closed-loop, as fast as they are answered.
  const paced: Partial<Record<Kind, () => Promise<void>>> = { upload: pacer(started, settings.jobsPerSecond / 2), sign: pacer(started, settings.jobsPerSecond / 2) };
  const loops = (Object.keys(LOOPS) as Kind[]).flatMap((kind) =>
    Array.from({ length: LOOPS[kind] }, async () => {
      while (performance.now() < endAt) {
        await paced[kind]?.();
        if (performance.now() >= endAt) break;
        const i = counter++;
        const sent = performance.now();
        try {
          const answer = await requestOnce[kind](i);
          const tallyOf = result.requests[kind];
          if (answer.status === expected[kind]) {
            tallyOf.ok++;
            tallyOf.latencies.push(performance.now() - sent);
            if (kind === 'upload' || kind === 'sign') follow(kind === 'upload' ? 'publish' : 'sign', (answer.body as JobView).id, sent);
          } else if (answer.status === 503 && redisDown) {
            // Refused while Redis is away, as promised (a code and Retry-After): the caller tries again.
            tallyOf.refused++;
            await sleep(500);
          } else {
            tallyOf.failed++;
            const problem = answer.body as { code?: string; detail?: string } | undefined;
            result.failures.push(`${kind}: HTTP ${answer.status} ${problem?.code ? `${problem.code}: ${problem.detail ?? ''}` : answer.text.slice(0, 300)}`);
          }
        } catch (error) {
          result.requests[kind].failed++;
          result.failures.push(`${kind}: ${(error as Error).message}`);
        }
      }
    }),
  );

  const middle = (async () => {
    await sleep((settings.seconds * 1000) / 2);
    await sample('middle');
    if (!faults) return;
    const victim = workers.shift()!;
    await victim.kill();
    result.faults.push(`t=${fixed((performance.now() - started) / 1000, 0)} s: worker SIGKILLed`);
    workers.push(await startWorker());
    result.faults.push(`t=${fixed((performance.now() - started) / 1000, 0)} s: a new worker ready`);
    redisDown = true;
    await redis.restart();
    result.faults.push(`t=${fixed((performance.now() - started) / 1000, 0)} s: Redis restarted (SIGTERM, then started again on its AOF)`);
    // Give the API's connections a moment to come back before 503s count as failures again.
    await sleep(3_000);
    redisDown = false;
  })();
  await Promise.all([...loops, middle]);
  await sample('end');

  log(`load (${label}): waiting for the queues to drain`);
  const drainStarted = performance.now();
  await Promise.all(followed);
  result.drainedMs = performance.now() - drainStarted;
  const succeeded = result.jobs.filter((job) => job.state === 'succeeded').length;
  await waitUntil(() => receiver.ids.size >= succeeded + seeded.length, 60_000);
  result.webhooks = { jobsSucceeded: succeeded + seeded.length, notified: receiver.ids.size, duplicates: receiver.requests - receiver.ids.size };
  client.close();
  for (const service of [api, ...workers]) await service.stop();
  await redis.remove();
  return result;
}

function report(results: RunResult[]): void {
  for (const result of results) {
    heading(`load: ${result.label}, ${result.seconds} s`);
    for (const fault of result.faults) note(`fault ${fault}`);
    printTable(
      ['kind', 'ok', 'refused (503, Redis away)', 'failed', 'ok/s', 'p50 ms', 'p99 ms'],
      (Object.keys(result.requests) as Kind[]).map((kind) => {
        const r = result.requests[kind];
        return [kind, r.ok, r.refused, r.failed, fixed(r.ok / result.seconds, 1), fixed(percentile(r.latencies, 50), 1), fixed(percentile(r.latencies, 99), 1)];
      }),
    );
    printTable(
      ['jobs', 'count', 'succeeded', 'other', 'p50 ms', 'p99 ms'],
      (['publish', 'sign'] as const).map((kind) => {
        const jobs = result.jobs.filter((job) => job.kind === kind);
        const ok = jobs.filter((job) => job.state === 'succeeded');
        const latencies = ok.map((job) => job.latencyMs);
        return [kind, jobs.length, ok.length, jobs.length - ok.length, fixed(percentile(latencies, 50), 0), fixed(percentile(latencies, 99), 0)];
      }),
    );
    const labels = [...new Set(result.samples.map((s) => s.label))];
    printTable(
      ['process', 'RSS start MiB', 'middle', 'end', 'loop delay p99 start ms', 'middle', 'end'],
      labels.map((name) => {
        const at = (when: Sample['at']) => result.samples.find((s) => s.label === name && s.at === when);
        return [
          name,
          ...(['start', 'middle', 'end'] as const).map((when) => fixed(at(when)?.rssMiB ?? Number.NaN, 0)),
          ...(['start', 'middle', 'end'] as const).map((when) => fixed(at(when)?.loopDelayP99Ms ?? Number.NaN, 1)),
        ];
      }),
    );
    note(`queues drained ${fixed(result.drainedMs / 1000, 1)} s after the load stopped`);
    note(
      `webhooks: ${result.webhooks.notified} of ${result.webhooks.jobsSucceeded} succeeded jobs notified (job.succeeded), ${result.webhooks.duplicates} repeated deliveries (same webhook-id)`,
    );
    for (const failure of result.failures.slice(0, 10)) note(`failed: ${failure}`);
    for (const job of result.jobs.filter((j) => j.state !== 'succeeded').slice(0, 10)) note(`${job.kind} job ${job.state}`);
  }
  heading('verdicts');
  for (const result of results) {
    const failed = Object.values(result.requests).reduce((sum, r) => sum + r.failed, 0);
    const unfinished = result.jobs.filter((job) => job.state !== 'succeeded').length;
    verdict(`${result.label}: no failed request that should have succeeded`, failed === 0, `${failed} failed`);
    verdict(
      `${result.label}: every accepted job succeeded and was notified`,
      unfinished === 0 && result.webhooks.notified >= result.webhooks.jobsSucceeded,
      `${unfinished} not succeeded, ${result.webhooks.notified}/${result.webhooks.jobsSucceeded} notified`,
    );
    // Each process that ran through the second half (not a worker started in the middle to replace one).
    for (const middle of result.samples.filter((s) => s.at === 'middle')) {
      const end = result.samples.find((s) => s.at === 'end' && s.pid === middle.pid);
      if (!end) continue;
      const growth = end.rssMiB - middle.rssMiB;
      verdict(`${result.label}: ${middle.label}'s RSS flat in the second half (growth < 64 MiB)`, growth < 64, `${fixed(growth, 0)} MiB`);
    }
    verdict(
      `${result.label}: the queues drained`,
      result.jobs.every((job) => !job.state.startsWith('unfinished')),
      `${fixed(result.drainedMs / 1000, 1)} s after the load stopped`,
    );
  }
}

/**
 * Hands out send times `perSecond` apart from `start`, shared by the loops of one kind: each call waits for
 * its slot. Loops that fall behind (slow answers) send at once, so the rate is a ceiling.
 */
function pacer(start: number, perSecond: number): () => Promise<void> {
  const intervalMs = 1000 / perSecond;
  let next = start;
  return async () => {
    const slot = next;
    next = Math.max(next + intervalMs, performance.now());
    const wait = slot - performance.now();
    if (wait > 0) await sleep(wait);
  };
}

const tally = () => ({ ok: 0, refused: 0, failed: 0, latencies: [] as number[] });

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

async function upload(api: ServiceUnderTest, repository: string, tag: string): Promise<string> {
  const response = await fetch(`${api.baseUrl}/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=${tag}`, {
    method: 'POST',
    headers: { ...api.authorization, 'content-type': 'application/wasm' },
    body: COMPONENT,
  });
  if (response.status !== 202) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as JobView).id;
}

/** RSS from /proc, event-loop delay p99 from the process's own metrics (prom-client's nodejs_eventloop_lag_p99_seconds). */
async function processState(service: ServiceUnderTest): Promise<{ rssMiB: number; loopDelayP99Ms: number }> {
  const rssMiB = (processMemory(service.pid)?.rss ?? Number.NaN) / MiB;
  try {
    const text = await (await fetch(`${service.baseUrl}/metrics`, { headers: service.authorization, signal: AbortSignal.timeout(5_000) })).text();
    const seconds = Number(/^nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(text)?.[1] ?? Number.NaN);
    return { rssMiB, loopDelayP99Ms: seconds * 1000 };
  } catch {
    return { rssMiB, loopDelayP99Ms: Number.NaN };
  }
}

async function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await sleep(100);
}

/** A webhook receiver on loopback that counts deliveries by webhook-id (answers 204). */
class WebhookCounter {
  readonly ids = new Set<string>();
  requests = 0;

  private constructor(private readonly server: Server) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  static async start(): Promise<WebhookCounter> {
    let counter: WebhookCounter | undefined;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        counter!.requests++;
        const id = req.headers['webhook-id'];
        if (typeof id === 'string') counter!.ids.add(id);
        res.writeHead(204).end();
      });
    });
    counter = new WebhookCounter(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return counter;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
