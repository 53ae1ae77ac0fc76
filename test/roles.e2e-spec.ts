import { randomUUID } from 'node:crypto';
import { ServiceProcess, eventually, tempDir } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { testEnvironment } from './support/test-environment';

interface Job {
  id: string;
  state: string;
  steps: { name: string; state: string; worker: string | null }[];
  result: { steps?: Record<string, { worker: string; pid: number }> } | null;
}

describe('one codebase, three roles', () => {
  const env = testEnvironment();
  let database: TestDatabase;
  const services: ServiceProcess[] = [];
  /** Each test gets queues of its own in the shared Redis. */
  const queuePrefix = () => `test-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
  });

  afterEach(async () => {
    await Promise.all(services.splice(0).map((service) => service.stop('SIGKILL')));
  });

  afterAll(async () => {
    await database.drop();
  });

  const start = async (extra: Record<string, string>) => {
    const service = await ServiceProcess.start({ REDIS_URL: env.redisUrl, ...extra });
    services.push(service);
    return service;
  };

  const getJob = async (service: ServiceProcess, id: string): Promise<Job> => {
    const response = await service.fetch(`/v1/jobs/${id}`);
    expect(response.status).toBe(200);
    return (await response.json()) as Job;
  };

  const submitProbe = async (service: ServiceProcess, body: Record<string, unknown> = {}): Promise<Job> => {
    const response = await service.fetch('/v1/probes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(202);
    const job = (await response.json()) as Job;
    expect(response.headers.get('location')).toBe(`/v1/jobs/${job.id}`);
    return job;
  };

  it('ROLE=all (the default) runs API and workers in one process on the embedded database', async () => {
    const service = await start({ DATA_DIR: tempDir('pglite'), QUEUE_PREFIX: queuePrefix(), ROLE: '', ADMIN_PASSWORD: 'correct-horse-battery' });
    expect((await service.fetch('/health/ready')).status).toBe(200);

    // Operations surface: Swagger UI, the OpenAPI document, metrics and the queue dashboard.
    expect((await service.fetch('/docs')).headers.get('content-type')).toContain('text/html');
    const spec = (await (await service.fetch('/docs-json')).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/probes', '/v1/jobs/{id}', '/health/ready']));
    expect(await (await service.fetch('/metrics')).text()).toContain('http_request_duration_seconds');
    expect((await service.fetch('/admin/queues')).status).toBe(401);
    const dashboard = await service.fetch('/admin/queues/api/queues', {
      headers: { authorization: `Basic ${Buffer.from('admin:correct-horse-battery').toString('base64')}` },
    });
    expect(dashboard.status).toBe(200);
    const board = (await dashboard.json()) as { queues: { name: string }[] };
    // One queue per step of the job catalogue (builds have theirs, consumed only with BUILD_WORKER), and the webhooks'.
    expect(board.queues.map((q) => q.name).sort()).toEqual(['attest', 'build', 'notify', 'push', 'sign', 'verify', 'webhooks']);
    const job = await submitProbe(service);
    const done = await eventually(async () => {
      const current = await getJob(service, job.id);
      return current.state === 'succeeded' ? current : undefined;
    });
    expect(done.steps.map((s) => [s.name, s.state, s.worker])).toEqual(['push', 'sign', 'attest', 'verify', 'notify'].map((name) => [name, 'succeeded', service.instanceId]));
  });

  it('a job submitted to an API process is completed by a worker in another process', async () => {
    const prefix = queuePrefix();
    const api = await start({ ROLE: 'api', DATABASE_URL: database.url, QUEUE_PREFIX: prefix });
    const job = await submitProbe(api);

    // No worker yet: the job waits in the queue.
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await getJob(api, job.id)).state).toBe('queued');

    const worker = await start({ ROLE: 'worker', DATABASE_URL: database.url, QUEUE_PREFIX: prefix });
    expect((await worker.fetch('/health/ready')).status).toBe(200);
    // The worker role serves health and metrics, not the API.
    expect((await worker.fetch('/v1/probes', { method: 'POST' })).status).toBe(404);

    const done = await eventually(async () => {
      const current = await getJob(api, job.id);
      return current.state === 'succeeded' ? current : undefined;
    });
    const workerPid = worker.child.pid;
    expect(workerPid).not.toBe(api.child.pid);
    for (const step of done.steps) expect(step.worker).toBe(worker.instanceId);
    for (const handled of Object.values(done.result!.steps!)) expect(handled.pid).toBe(workerPid);
  });

  it('SIGTERM drains: readiness turns red, the active step finishes, then the process exits 0', async () => {
    const prefix = queuePrefix();
    const api = await start({ ROLE: 'api', DATABASE_URL: database.url, QUEUE_PREFIX: prefix });
    const worker = await start({ ROLE: 'worker', DATABASE_URL: database.url, QUEUE_PREFIX: prefix, SHUTDOWN_TIMEOUT_MS: '20000' });
    const job = await submitProbe(api, { holdMs: 2_500 });

    await eventually(async () => ((await getJob(api, job.id)).steps[0]!.state === 'running' ? true : undefined), 10_000, 'first step running');
    expect((await worker.fetch('/health/ready')).status).toBe(200);
    const stopping = worker.stop('SIGTERM');
    await eventually(async () => (worker.logs.includes('"msg":"shutting down"') ? true : undefined), 10_000, 'shutdown to begin');
    // From then on, while the step is still running, readiness never answers 200: a 503, or no listener
    // at all (the server stops accepting connections), both take the process out of rotation.
    const answers: Array<number | 'refused'> = [];
    while (worker.child.exitCode === null && answers.length < 10) {
      answers.push(
        await worker.fetch('/health/ready').then(
          (response) => response.status,
          () => 'refused' as const,
        ),
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.filter((answer) => answer !== 503 && answer !== 'refused')).toEqual([]);
    expect(await stopping).toBe(0);

    const afterDrain = await getJob(api, job.id);
    expect(afterDrain.steps[0]).toMatchObject({ name: 'push', state: 'succeeded', worker: worker.instanceId });
    expect(afterDrain.steps[1]!.state).not.toBe('succeeded');
    expect(worker.logs).toContain('workers drained');

    // Another worker picks up where the drained one stopped.
    const next = await start({ ROLE: 'worker', DATABASE_URL: database.url, QUEUE_PREFIX: prefix });
    const done = await eventually(async () => {
      const current = await getJob(api, job.id);
      return current.state === 'succeeded' ? current : undefined;
    }, 30_000);
    expect(done.steps.at(-1)!.worker).toBe(next.instanceId);
  });

  it('SIGTERM on the API process stops it cleanly with exit 0', async () => {
    const api = await start({ ROLE: 'api', DATABASE_URL: database.url, QUEUE_PREFIX: queuePrefix() });
    expect(await api.stop('SIGTERM')).toBe(0);
    expect(api.logs).toContain('"msg":"stopped"');
  });
});
