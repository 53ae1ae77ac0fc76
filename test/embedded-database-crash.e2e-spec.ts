import { randomUUID } from 'node:crypto';
import { ServiceProcess, eventually, tempDir } from './support/service-process';
import { testEnvironment } from './support/test-environment';

interface Job {
  id: string;
  state: string;
}

/**
 * Fault run: the embedded PGlite database (no DATABASE_URL) when the service is killed with SIGKILL while
 * it writes. What was acknowledged before the kill is there after a restart on the same DATA_DIR, the
 * database opens without repair by hand, and jobs accepted before the kill all finish.
 */
describe('the embedded database when the service is SIGKILLed', () => {
  const env = testEnvironment();
  const services: ServiceProcess[] = [];

  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop('SIGKILL')));
  });

  it('keeps every acknowledged write and finishes every accepted job after a restart', async () => {
    const shared = { REDIS_URL: env.redisUrl, DATA_DIR: tempDir('pglite-crash'), QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`, ROLE: 'all', WORKER_LOCK_DURATION_MS: '3000' };
    const first = await ServiceProcess.start(shared);
    services.push(first);

    const key = await first.fetch('/v1/api-keys', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'survives-a-kill', scopes: ['records:read'], repositories: ['**'] }),
    });
    expect(key.status).toBe(201);
    const keyId = ((await key.json()) as { id: string }).id;

    // Jobs accepted (202) while others run: the kill lands in the middle of job and step writes.
    const accepted: string[] = [];
    const submitting = (async () => {
      for (let i = 0; i < 40; i++) {
        const response = await first.fetch('/v1/probes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).catch(() => undefined);
        if (response?.status !== 202) break;
        accepted.push(((await response.json()) as Job).id);
      }
    })();
    await eventually(async () => (accepted.length >= 10 ? true : undefined), 30_000, '10 accepted probe jobs');
    expect(await first.stop('SIGKILL')).toBeNull();
    await submitting;

    const second = await ServiceProcess.start(shared);
    services.push(second);
    expect((await second.fetch('/health/ready')).status).toBe(200);
    const keys = (await (await second.fetch('/v1/api-keys?limit=200')).json()) as { items: { id: string; name: string }[] };
    expect(keys.items.find((item) => item.id === keyId)).toMatchObject({ name: 'survives-a-kill' });

    const finished = await eventually(
      async () => {
        const jobs = await Promise.all(accepted.map(async (id) => (await second.fetch(`/v1/jobs/${id}`)).json() as Promise<Job>));
        return jobs.every((job) => job.state === 'succeeded') ? jobs : undefined;
      },
      90_000,
      'every accepted job to succeed',
    );
    process.stdout.write(
      `[fault run] embedded database, service SIGKILLed while writing\n  injected: SIGKILL after ${accepted.length} probe jobs were accepted, with jobs running\n` +
        `  expected: the database opens again, the API key made before is there, every accepted job succeeds\n` +
        `  saw:      ready ${(await second.fetch('/health/ready')).status}, API key present, ${finished.filter((job) => job.state === 'succeeded').length}/${accepted.length} jobs succeeded\n`,
    );
    expect(finished).toHaveLength(accepted.length);
  }, 180_000);
});
