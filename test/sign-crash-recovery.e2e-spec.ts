import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedJob, type JobView } from './support/jobs';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess, eventually } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment } from './support/test-environment';

/**
 * A worker killed with SIGKILL while it signs leaves a job that another worker completes, with exactly
 * one signature record per format and one signature of each kind in the registry.
 */
describe('a worker killed in the middle of signing', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  let database: TestDatabase;
  const services: ServiceProcess[] = [];

  const setFulcioDelay = async (ms: number) => {
    const response = await fetch(`${env.stackEnv.SIGSTORE_FULCIO_URL}/_stack/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ signingCertDelayMs: ms }),
    });
    expect(response.status).toBe(200);
  };

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
  });

  afterAll(async () => {
    await setFulcioDelay(0);
    await Promise.all(services.map((service) => service.stop('SIGKILL')));
    await database?.drop();
  });

  it('completes after a worker comes back, with exactly one signature record per format', async () => {
    const shared = {
      ...env.stackEnv,
      DATABASE_URL: database.url,
      REDIS_URL: env.redisUrl,
      QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
      // A dead worker's job is taken over after about this long.
      WORKER_LOCK_DURATION_MS: '3000',
    };
    const api = await ServiceProcess.start({ ...shared, ROLE: 'api' });
    services.push(api);
    const doomed = await ServiceProcess.start({ ...shared, ROLE: 'worker' });
    services.push(doomed);

    await setFulcioDelay(4_000);
    const repository = `${registryHost}/e2e/crash-${randomUUID().slice(0, 8)}`;
    const response = await api.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as JobView;

    // The worker is now waiting on Fulcio for its certificate: kill it there.
    await eventually(
      async () => {
        const job = (await (await api.fetch(`/v1/jobs/${id}`)).json()) as JobView;
        return job.steps.find((s) => s.name === 'sign')?.state === 'running' ? true : undefined;
      },
      20_000,
      'the sign step to start',
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(await doomed.stop('SIGKILL')).toBeNull();
    await setFulcioDelay(0);

    const rescuer = await ServiceProcess.start({ ...shared, ROLE: 'worker' });
    services.push(rescuer);
    const job = await finishedJob(api, id, 60_000);
    expect(job.error).toBeNull();
    expect(job.state).toBe('succeeded');
    expect(job.steps.find((s) => s.name === 'sign')!.worker).toBe(rescuer.instanceId);

    const records = await database.query<{ format: string; rekor_log_index: number }>('select format, rekor_log_index from signatures where job_id = $1 order by format', [id]);
    expect(records.map((r) => r.format)).toEqual(['cosign-classic', 'sigstore-bundle']);

    const registry = new RegistryReader(registryHost);
    const path = repository.slice(registryHost.length + 1);
    const digest = job.result!.manifestDigest as string;
    const sig = await registry.manifest(path, `${digest.replace(':', '-')}.sig`);
    expect(sig.json!.layers).toHaveLength(1);
    const index = await registry.manifest(path, digest.replace(':', '-'));
    expect(index.json!.manifests).toHaveLength(1);
  });
});
