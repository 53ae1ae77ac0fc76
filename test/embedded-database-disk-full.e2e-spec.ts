import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasTool } from './support/required-tool';
import { ServiceProcess, eventually, tempDir } from './support/service-process';
import { testEnvironment } from './support/test-environment';

interface Job {
  id: string;
  state: string;
}

interface Readiness {
  details: Record<string, { status: string; message?: string }>;
}

/**
 * Fault run: the embedded PGlite database (no DATABASE_URL) on a disk that fills up. DATA_DIR is a
 * size-capped tmpfs of the service's own (bubblewrap mounts it, without privileges), filled by the test
 * through /proc/<pid>/root until a few kilobytes are left. While it is full the service says so: writes
 * answer 503 problem+json with a stable code and Retry-After, readiness names the database's storage,
 * the log says the disk is full; it does not crash. Once the filler is deleted it works again and the
 * jobs accepted before finish; and a copy of the full directory, taken as if the machine had stopped
 * there, opens on a larger disk with everything acknowledged before.
 */
(hasTool('bwrap', ['--version'], 'bubblewrap') ? describe : describe.skip)('the embedded database when its disk is full', () => {
  const env = testEnvironment();
  const services: ServiceProcess[] = [];
  const TMPFS_BYTES = 96 * 1024 * 1024;

  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop('SIGKILL')));
  });

  const report = (run: string, facts: { injected: string; expected: string; saw: string }) =>
    process.stdout.write(`[fault run] ${run}\n  injected: ${facts.injected}\n  expected: ${facts.expected}\n  saw:      ${facts.saw}\n`);

  it('refuses writes with 503 and goes unready while full, and keeps and finishes everything once space is back', async () => {
    const dataDir = tempDir('pglite-full');
    const shared = { REDIS_URL: env.redisUrl, DATA_DIR: dataDir, QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`, ROLE: 'all', STEP_RETRY_BASE_MS: '200' };
    const service = await ServiceProcess.start(shared, {
      wrapper: ['bwrap', '--dev-bind', '/', '/', '--size', String(TMPFS_BYTES), '--tmpfs', dataDir, '--die-with-parent', '--'],
    });
    services.push(service);
    // The service's view of DATA_DIR: its tmpfs, seen from outside its mount namespace.
    const inside = `/proc/${service.pid}/root${dataDir}`;
    const post = (path: string, body: unknown) => service.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const readiness = async () => {
      const response = await service.fetch('/health/ready');
      return { status: response.status, body: (await response.json()) as Readiness };
    };

    const key = await post('/v1/api-keys', { name: 'before-the-disk-filled', scopes: ['records:read'], repositories: ['**'] });
    expect(key.status).toBe(201);
    const keyId = ((await key.json()) as { id: string }).id;
    const accepted: string[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await post('/v1/probes', { holdMs: 300 });
      expect(response.status).toBe(202);
      accepted.push(((await response.json()) as Job).id);
    }

    // The disk fills up, while those jobs run: a few kilobytes are left.
    const free = statfsSync(inside);
    const filler = join(inside, 'filler');
    writeFileSync(filler, Buffer.alloc(Math.max(0, free.bavail * free.bsize - 32 * 1024)));
    const refused = await eventually(
      async () => {
        const response = await post('/v1/probes', {});
        if (response.status === 202) {
          accepted.push(((await response.json()) as Job).id);
          return undefined;
        }
        const body = (await response.json()) as { code: string };
        return { status: response.status, code: body.code, type: response.headers.get('content-type'), retryAfter: response.headers.get('retry-after') };
      },
      30_000,
      'a write to be refused',
    );
    const unready = await eventually(
      async () => {
        const current = await readiness();
        return current.status === 503 ? current.body : undefined;
      },
      15_000,
      'readiness to go red',
    );
    const keyWhileFull = (await service.fetch(`/v1/api-keys?limit=200`)).status;
    const aliveWhileFull = service.child.exitCode === null;
    const diskFullLogged = service.logs.includes('database out of storage (disk full)');

    // Space is freed: the service works again, and the jobs accepted before finish.
    rmSync(filler);
    await eventually(async () => ((await readiness()).status === 200 ? true : undefined), 45_000, 'readiness to go green again');
    const after = await post('/v1/probes', {});
    expect(after.status).toBe(202);
    accepted.push(((await after.json()) as Job).id);
    const finished = await eventually(
      async () => {
        const jobs = await Promise.all(accepted.map(async (id) => (await service.fetch(`/v1/jobs/${id}`)).json() as Promise<Job>));
        return jobs.every((job) => job.state === 'succeeded' || job.state === 'failed') ? jobs : undefined;
      },
      45_000,
      'every accepted job to finish',
    );

    report('embedded database, disk full', {
      injected: `DATA_DIR on a ${TMPFS_BYTES / 1024 / 1024} MiB tmpfs (bwrap --size), filled to its last 32 KiB while ${accepted.length - 1} probe jobs were accepted and running; then the filler deleted`,
      expected:
        'a write answered 503 problem+json with a stable code naming storage (DATABASE_STORAGE_FULL, or AUDIT_LOG_UNAVAILABLE for a change it could not audit) and Retry-After; readiness 503 naming the database; log says disk full; no crash; reads work; after the delete: ready again, every accepted job succeeded',
      saw:
        `${refused.status} ${refused.code} retry-after=${refused.retryAfter}; readiness database ${JSON.stringify(unready.details.database)}; disk full logged: ${diskFullLogged}; ` +
        `alive: ${aliveWhileFull}; API key list ${keyWhileFull}; after: ${finished.filter((job) => job.state === 'succeeded').length}/${accepted.length} succeeded`,
    });
    expect(refused).toMatchObject({ status: 503, type: expect.stringContaining('application/problem+json') });
    expect(['DATABASE_STORAGE_FULL', 'AUDIT_LOG_UNAVAILABLE']).toContain(refused.code);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(unready.details.database).toMatchObject({ status: 'down', message: expect.stringMatching(/out of storage/) });
    expect([diskFullLogged, aliveWhileFull, keyWhileFull]).toEqual([true, true, 200]);
    expect(finished.map((job) => job.state)).toEqual(accepted.map(() => 'succeeded'));

    // The directory as it would be on the disk of a machine that stopped while it was full: the service
    // frozen, its files copied to a larger disk; a new service opens them there.
    writeFileSync(filler, Buffer.alloc(Math.max(0, statfsSync(inside).bavail * statfsSync(inside).bsize - 32 * 1024)));
    await eventually(async () => ((await post('/v1/probes', {})).status === 503 ? true : undefined), 30_000, 'a write to be refused again');
    process.kill(service.pid, 'SIGSTOP');
    const largerDisk = tempDir('pglite-moved');
    execFileSync('cp', ['-a', `${inside}/.`, largerDisk]);
    rmSync(join(largerDisk, 'filler'));
    await service.stop('SIGKILL');
    const moved = await ServiceProcess.start({ ...shared, DATA_DIR: largerDisk, QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}` });
    services.push(moved);
    const movedReady = (await moved.fetch('/health/ready')).status;
    const keys = (await (await moved.fetch('/v1/api-keys?limit=200')).json()) as { items: { id: string; name: string }[] };
    const movedJobs = await Promise.all(accepted.map(async (id) => (await moved.fetch(`/v1/jobs/${id}`)).json() as Promise<Job>));
    const fresh = (await (await moved.fetch('/v1/probes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as Job;
    const freshDone = await eventually(
      async () => {
        const job = (await (await moved.fetch(`/v1/jobs/${fresh.id}`)).json()) as Job;
        return job.state === 'succeeded' || job.state === 'failed' ? job : undefined;
      },
      30_000,
      'a new job on the larger disk',
    );
    report('embedded database, stopped while its disk was full, moved to a larger disk', {
      injected: 'disk filled again, the service frozen (SIGSTOP) and its data directory copied to an ordinary disk, then killed; a new service started on the copy',
      expected: `ready; the API key and the ${accepted.length} jobs acknowledged before are there, succeeded; a new job succeeds`,
      saw: `ready ${movedReady}; API key ${keys.items.some((item) => item.id === keyId) ? 'present' : 'missing'}; jobs ${JSON.stringify(movedJobs.map((job) => job.state))}; new job ${freshDone.state}`,
    });
    expect(movedReady).toBe(200);
    expect(keys.items.find((item) => item.id === keyId)).toMatchObject({ name: 'before-the-disk-filled' });
    expect(movedJobs.map((job) => job.state)).toEqual(accepted.map(() => 'succeeded'));
    expect(freshDone.state).toBe('succeeded');
  }, 180_000);
});
