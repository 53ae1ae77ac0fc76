import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { finishedJob, type JobView } from './support/jobs';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess } from './support/service-process';
import { TcpProxy } from './support/tcp-proxy';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment } from './support/test-environment';

/**
 * An API killed with SIGKILL after it recorded a job and before the job reached the queues: the job is
 * not lost. A worker's sweeper enqueues it once the grace period is over, it completes exactly once
 * (one push, one signature record per format, one signature of each kind in the registry), the caller
 * reads it as succeeded, and a replay of the request that got no answer returns that same job.
 */
describe('an API killed between recording a job and enqueueing it', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  let database: TestDatabase;
  let redisProxy: TcpProxy;
  let redis: IORedis;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    const target = new URL(env.redisUrl);
    redisProxy = await TcpProxy.start(target.hostname, Number(target.port || 6379));
    redis = new IORedis(env.redisUrl, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop('SIGKILL')));
    redis?.disconnect();
    await redisProxy?.close();
    await database?.drop();
  });

  it('is enqueued by the sweeper and completes exactly once; a replay returns it', async () => {
    const prefix = `test-${randomUUID().slice(0, 8)}`;
    const shared = { ...env.stackEnv, DATABASE_URL: database.url, REDIS_URL: env.redisUrl, QUEUE_PREFIX: prefix };
    // The API reaches Redis through the proxy, which holds back the first command naming a step job of
    // a pipeline (`<job id>.<step>`: the flow add, sent only after the job row is committed).
    const enqueueReached = redisProxy.stallOn(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(push|sign|attest|verify|notify)/);
    const doomed = await ServiceProcess.start({ ...shared, ROLE: 'api', REDIS_URL: `redis://127.0.0.1:${redisProxy.port}` });
    services.push(doomed);

    const repository = `${registryHost}/e2e/enqueue-crash-${randomUUID().slice(0, 8)}`;
    const key = randomUUID();
    const upload = () =>
      fetch(`${doomed.baseUrl}/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
        method: 'POST',
        headers: { authorization: `Bearer ${doomed.env.BOOTSTRAP_ADMIN_API_KEY}`, 'content-type': 'application/wasm', 'idempotency-key': key },
        body: component,
      });
    const unanswered = upload().then(
      (response) => response.status,
      () => 'no answer',
    );
    await enqueueReached;
    expect(await doomed.stop('SIGKILL')).toBeNull();
    expect(await unanswered).toBe('no answer');

    // Recorded, never enqueued: the row is there, Redis has none of its step jobs.
    const [row] = await database.query<{ id: string; state: string; enqueued_at: Date | null }>('select id, state, enqueued_at from jobs where idempotency_key = $1', [key]);
    expect(row).toMatchObject({ state: 'queued', enqueued_at: null });
    const id = row!.id;
    for (const step of ['push', 'sign', 'verify']) expect(await redis.exists(`${prefix}:${step}:${id}.${step}`)).toBe(0);

    const worker = await ServiceProcess.start({ ...shared, ROLE: 'worker', ENQUEUE_SWEEP_INTERVAL_MS: '500', ENQUEUE_SWEEP_GRACE_MS: '2000' });
    services.push(worker);
    const api = await ServiceProcess.start({ ...shared, ROLE: 'api' });
    services.push(api);

    const job = await finishedJob(api, id, 90_000);
    expect(job.error).toBeNull();
    expect(job.state).toBe('succeeded');
    expect(job.steps.map((s) => [s.name, s.state, s.attempts])).toEqual([
      ['push', 'succeeded', 1],
      ['sign', 'succeeded', 1],
      ['verify', 'succeeded', 1],
    ]);

    // The sweeper says what it did: a log line naming the job, and the counter.
    expect(worker.logs).toContain('job was recorded but never enqueued');
    expect(worker.logs).toContain(id);
    const metrics = await (await worker.fetch('/metrics')).text();
    expect(metrics).toMatch(/^jobs_reenqueued_total\{type="publish",reason="never_enqueued"\} 1$/m);

    // Exactly once: one artifact record, one signature record per format, one signature of each kind.
    const artifacts = await database.query<{ id: string }>('select id from artifacts where job_id = $1', [id]);
    expect(artifacts).toHaveLength(1);
    const records = await database.query<{ format: string }>('select format from signatures where job_id = $1 order by format', [id]);
    expect(records.map((r) => r.format)).toEqual(['cosign-classic', 'sigstore-bundle']);
    const registry = new RegistryReader(registryHost);
    const path = repository.slice(registryHost.length + 1);
    const digest = job.result!.manifestDigest as string;
    expect((await registry.manifest(path, 'v1')).digest).toBe(digest);
    expect((await registry.manifest(path, `${digest.replace(':', '-')}.sig`)).json!.layers).toHaveLength(1);
    expect((await registry.manifest(path, digest.replace(':', '-'))).json!.manifests).toHaveLength(1);

    // The caller who got no answer replays the request: the same job, already done, and nothing runs again.
    const replay = await fetch(`${api.baseUrl}/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.env.BOOTSTRAP_ADMIN_API_KEY}`, 'content-type': 'application/wasm', 'idempotency-key': key },
      body: component,
    });
    expect(replay.status).toBeLessThan(300);
    const replayed = (await replay.json()) as JobView;
    expect(replayed).toMatchObject({ id, state: 'succeeded' });
    expect(await database.query('select 1 from signatures where job_id = $1', [id])).toHaveLength(2);
  });
});
