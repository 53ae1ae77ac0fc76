import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedJob, type JobView } from './support/jobs';
import { PrivateRedis } from './support/private-redis';
import { ServiceProcess, eventually, sleep } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';
import { WebhookReceiver } from './support/webhook-receiver';

/** One submission of the stream: what was sent, what came back and how long it took. */
interface Submission {
  kind: 'publish' | 'sign';
  path: string;
  sentAt: number;
  ms: number;
  status: number;
  code?: string;
  retryAfter?: string | null;
  contentType?: string | null;
  jobId?: string;
}

/**
 * Fault runs: Redis (a private one, AOF fsynced every second as docker-compose.yml runs it) goes away
 * under a steady stream of publishes and signs, and comes back; then it comes back empty, as a Redis
 * without persistence does. The promise: a submission answered 202 is never lost — its job succeeds
 * exactly once (one signature record per format, one webhook-id for its callback); while Redis is away
 * submissions are refused at once (503 problem+json with a code and Retry-After) instead of hanging;
 * the API and the worker recover by themselves.
 */
describe('Redis stopped and restarted under a stream of submissions', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  const callbackSecret = `whsec_${Buffer.from(randomUUID()).toString('base64')}`;
  const repository = `${registryHost}/e2e/redis-restart-${randomUUID().slice(0, 8)}`;
  let database: TestDatabase;
  let receiver: WebhookReceiver;
  let redis: PrivateRedis;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  let counter = 0;

  const report = (run: string, facts: { injected: string; expected: string; saw: string }) =>
    process.stdout.write(`[fault run] ${run}\n  injected: ${facts.injected}\n  expected: ${facts.expected}\n  saw:      ${facts.saw}\n`);

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    receiver = await WebhookReceiver.start();
    redis = await PrivateRedis.start();
    const shared = testServiceEnv(database.url, 'redis-restart', {
      REDIS_URL: redis.url,
      WORKER_LOCK_DURATION_MS: '3000',
      WEBHOOK_ALLOWLIST: '127.0.0.1',
      WEBHOOK_CALLBACK_SECRET: callbackSecret,
      WEBHOOK_RETRY_BASE_MS: '200',
      // Work missing from the queues is looked for every second, and re-enqueued 3 s after its last change.
      ENQUEUE_SWEEP_INTERVAL_MS: '1000',
      ENQUEUE_SWEEP_GRACE_MS: '3000',
      // Uploads unlimited (refused by the queue while Redis is away), signs limited (refused by the rate limiter).
      RATE_LIMIT_UPLOADS_PER_MINUTE: '0',
      MAX_CONCURRENT_UPLOADS_PER_CALLER: '0',
      RATE_LIMIT_SIGNATURES_PER_MINUTE: '10000',
    });
    [api, worker] = await Promise.all([ServiceProcess.start({ ...shared, ROLE: 'api' }), ServiceProcess.start({ ...shared, ROLE: 'worker' })]);
    const seed = await submit('publish', 'seed');
    expect(seed.status).toBe(202);
    expect((await finishedJob(api, seed.jobId!, 30_000)).state).toBe('succeeded');
  }, 60_000);

  afterAll(async () => {
    await Promise.all([api, worker].map((service) => service?.stop('SIGKILL')));
    await redis?.remove();
    await receiver?.stop();
    await database?.drop();
  });

  /** One publish (upload) or sign-by-reference, with a callback to a path of its own. */
  async function submit(kind: Submission['kind'], tag = `t${counter}`): Promise<Submission> {
    const path = `/callback-${counter++}`;
    const callbackUrl = receiver.url(path);
    const sentAt = performance.now();
    const response =
      kind === 'publish'
        ? await api.fetch(`/v1/artifacts?${new URLSearchParams({ repository, tag, callbackUrl })}`, {
            method: 'POST',
            headers: { 'content-type': 'application/wasm' },
            body: component,
            signal: AbortSignal.timeout(30_000),
          })
        : await api.fetch('/v1/signatures', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ reference: `${repository}:seed`, callbackUrl }),
            signal: AbortSignal.timeout(30_000),
          });
    const body = (await response.json()) as { id?: string; code?: string };
    return {
      kind,
      path,
      sentAt,
      ms: performance.now() - sentAt,
      status: response.status,
      code: body.code,
      retryAfter: response.headers.get('retry-after'),
      contentType: response.headers.get('content-type'),
      jobId: response.status === 202 ? body.id : undefined,
    };
  }

  /** Two publish loops and one sign loop until `fault` has run and `afterMs` more have passed. */
  async function stream(fault: () => Promise<void>, afterMs: number): Promise<Submission[]> {
    const submissions: Submission[] = [];
    let running = true;
    const loop = async (kind: Submission['kind']) => {
      while (running) {
        const submission = await submit(kind).catch((error: unknown) => ({ kind, path: '', sentAt: 0, ms: Number.NaN, status: 0, code: String(error) }));
        submissions.push(submission);
        await sleep(submission.status === 202 ? 300 : 250);
      }
    };
    const loops = [loop('publish'), loop('publish'), loop('sign')];
    await fault();
    await sleep(afterMs);
    running = false;
    await Promise.all(loops);
    return submissions;
  }

  /** What each accepted job came to: its state, signature records and the webhook-ids of its callbacks. */
  async function outcomes(accepted: Submission[]) {
    return Promise.all(
      accepted.map(async (submission) => {
        const job = await finishedJob(api, submission.jobId!, 45_000).catch(() => undefined);
        const callbacks = await eventually(async () => (receiver.on(submission.path).length > 0 ? receiver.on(submission.path) : undefined), 30_000, 'a callback').catch(() => []);
        const formats = (await database.query<{ format: string }>('select format from signatures where job_id = $1 order by format', [submission.jobId])).map((row) => row.format);
        const ids = [...new Set(callbacks.map((callback) => callback.headers['webhook-id']))];
        const aboutJob = callbacks.every((callback) => (JSON.parse(callback.body) as { data: { job: { id: string } } }).data.job.id === submission.jobId);
        return { id: submission.jobId!, state: job?.state ?? 'unfinished', error: (job as JobView | undefined)?.error, formats, ids, requests: callbacks.length, aboutJob };
      }),
    );
  }

  const summary = (results: Awaited<ReturnType<typeof outcomes>>) => {
    const states = tally(results.map((r) => r.state));
    const records = tally(results.map((r) => JSON.stringify(r.formats)));
    const webhookIds = tally(results.map((r) => `${r.ids.length} id(s)`));
    return `job states ${JSON.stringify(states)}, signature records ${JSON.stringify(records)}, callbacks ${JSON.stringify(webhookIds)} (${results.reduce((n, r) => n + r.requests, 0)} requests)`;
  };

  const readiness = async (service: ServiceProcess) => (await service.fetch('/health/ready').catch(() => undefined))?.status;

  const expectEveryJobOnce = (results: Awaited<ReturnType<typeof outcomes>>) => {
    for (const result of results) {
      expect({ id: result.id, state: result.state, error: result.error }).toEqual({ id: result.id, state: 'succeeded', error: null });
      expect({ id: result.id, formats: result.formats }).toEqual({ id: result.id, formats: ['cosign-classic', 'sigstore-bundle'] });
      expect({ id: result.id, webhookIds: result.ids.length, aboutJob: result.aboutJob }).toEqual({ id: result.id, webhookIds: 1, aboutJob: true });
    }
  };

  it('SIGKILLed and started again on its AOF: refused fast while away, every accepted job succeeds once, both processes recover', async () => {
    let downAt = 0;
    let upAt = 0;
    let readyAgain: Promise<number> | undefined;
    const submissions = await stream(async () => {
      await sleep(2_000);
      downAt = performance.now();
      await redis.stop('SIGKILL');
      await sleep(3_000);
      await redis.launch();
      upAt = performance.now();
      readyAgain = eventually(async () => ((await readiness(api)) === 200 && (await readiness(worker)) === 200 ? performance.now() - upAt : undefined), 20_000, 'readiness');
    }, 4_000);

    const readyAgainMs = await readyAgain!;
    const accepted = submissions.filter((s) => s.status === 202);
    const refused = submissions.filter((s) => s.status !== 202);
    const results = await outcomes(accepted);
    const acceptedBefore = accepted.filter((s) => s.sentAt < downAt).length;
    const acceptedAfter = accepted.filter((s) => s.sentAt > upAt).length;
    const firstAcceptedAfterMs = Math.min(...accepted.filter((s) => s.sentAt > upAt).map((s) => s.sentAt + s.ms - upAt));
    const slowestRefusalMs = Math.max(0, ...refused.map((s) => s.ms));
    report('Redis SIGKILLed for 3 s, restarted on its AOF (appendfsync everysec)', {
      injected: `redis-server SIGKILLed under 2 publish loops and 1 sign loop, started again on the same port and directory after 3 s`,
      expected:
        'while away: 503 problem+json with a code and Retry-After, each within 5 s; every 202 job succeeded, 1 signature record per format, 1 webhook-id; readiness green again without a restart',
      saw: `${accepted.length} accepted (${acceptedBefore} before, ${acceptedAfter} after), refused ${JSON.stringify(tally(refused.map((s) => `${s.status} ${s.code} retry-after=${s.retryAfter}`)))}, slowest refusal ${Math.round(slowestRefusalMs)} ms; ${summary(results)}; first 202 ${Math.round(firstAcceptedAfterMs)} ms after Redis was back, both ready ${Math.round(readyAgainMs)} ms after`,
    });

    expect(acceptedBefore).toBeGreaterThan(0);
    expect(acceptedAfter).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const refusal of refused) {
      expect({ status: refusal.status, contentType: refusal.contentType, code: refusal.code, retryAfter: refusal.retryAfter }).toEqual({
        status: 503,
        contentType: expect.stringContaining('application/problem+json'),
        code: expect.stringMatching(/^(QUEUE|RATE_LIMIT)_UNAVAILABLE$/),
        retryAfter: expect.stringMatching(/^\d+$/),
      });
      // Only while Redis was away (and the moment it took the connections to come back).
      expect(refusal.sentAt).toBeGreaterThan(downAt - 1_000);
      expect(refusal.sentAt).toBeLessThan(upAt + 5_000);
    }
    expect(slowestRefusalMs).toBeLessThan(5_000);
    expectEveryJobOnce(results);
  }, 120_000);

  it('restarted empty (as without persistence) with jobs in flight: every accepted job still succeeds once', async () => {
    const submitted = await Promise.all(Array.from({ length: 8 }, (_, i) => submit(i % 4 === 3 ? 'sign' : 'publish')));
    expect(submitted.map((s) => s.status)).toEqual(submitted.map(() => 202));
    // Some jobs part-way: a step running or done, others not started.
    await eventually(
      async () => {
        const jobs = await Promise.all(submitted.map(async (s) => (await (await api.fetch(`/v1/jobs/${s.jobId}`)).json()) as JobView));
        return jobs.some((job) => job.steps.some((step) => step.state !== 'pending')) ? true : undefined;
      },
      20_000,
      'a step to start',
    );
    const inFlight = await database.query<{ state: string; n: string }>('select state, count(*) as n from jobs where id = any($1::uuid[]) group by state order by state', [
      submitted.map((s) => s.jobId),
    ]);
    await redis.restartEmpty('SIGKILL');
    const results = await outcomes(submitted);
    const swept = await eventually(
      async () => /jobs_reenqueued_total\{[^}]*reason="queue_entry_lost"[^}]*\} (\d+)/.exec(await (await worker.fetch('/metrics')).text())?.[1],
      5_000,
      'the metric',
    ).catch(() => '0');
    report('Redis restarted empty with jobs in flight', {
      injected: `redis-server SIGKILLed and started again with an empty directory while jobs were ${inFlight.map((r) => `${r.n} ${r.state}`).join(', ')}`,
      expected: 'every job succeeded, 1 signature record per format, 1 webhook-id each; the jobs whose queue entries vanished re-enqueued from their current step',
      saw: `${summary(results)}; jobs_reenqueued_total{reason="queue_entry_lost"} ${swept}`,
    });
    expectEveryJobOnce(results);
    expect(Number(swept)).toBeGreaterThan(0);
  }, 120_000);
});

function tally(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
