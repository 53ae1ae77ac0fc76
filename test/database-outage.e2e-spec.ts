import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobView } from './support/jobs';
import { scrape, sumOf } from './support/metrics-exposition';
import { ServiceProcess, eventually, sleep } from './support/service-process';
import { TcpProxy } from './support/tcp-proxy';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';

/**
 * Fault run: PostgreSQL unreachable for several seconds while publish jobs are in their steps (every
 * connection of the API and the worker dropped, new ones refused), then back. While it is down the
 * service says so (readiness red naming the database, 503 DATABASE_UNAVAILABLE with Retry-After at once
 * instead of a hang or a 500); the steps wait for it rather than fail; afterwards every job accepted
 * with 202 has succeeded exactly once, with one signature record per format and no half-written rows.
 */
describe('PostgreSQL down while steps run', () => {
  const env = testEnvironment();
  const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  const OUTAGE_MS = 8_000;
  let database: TestDatabase;
  let postgresProxy: TcpProxy;
  let registryProxy: TcpProxy;
  const services: ServiceProcess[] = [];

  const report = (run: string, facts: { injected: string; expected: string; saw: string }) =>
    process.stdout.write(`[fault run] ${run}\n  injected: ${facts.injected}\n  expected: ${facts.expected}\n  saw:      ${facts.saw}\n`);

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    const postgres = new URL(database.url);
    postgresProxy = await TcpProxy.start(postgres.hostname, Number(postgres.port || 5432));
    // The registry behind a slow link, so that steps are in flight when the database goes.
    const [host, port] = env.stackEnv.LOCAL_REGISTRY!.split(':') as [string, string];
    registryProxy = await TcpProxy.start(host, Number(port), { latencyMs: 40 });
  });

  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop('SIGKILL')));
    await postgresProxy?.close();
    await registryProxy?.close();
    await database?.drop();
  });

  it('answers 503 DATABASE_UNAVAILABLE while it is down, and finishes every accepted job once after', async () => {
    const viaProxy = new URL(database.url);
    viaProxy.port = String(postgresProxy.port);
    const slowHost = `127.0.0.1:${registryProxy.port}`;
    const shared = testServiceEnv(viaProxy.toString(), 'pg-outage', {
      REGISTRY_INSECURE_HOSTS: `${env.stackEnv.REGISTRY_INSECURE_HOSTS},${slowHost}`,
      WORKER_LOCK_DURATION_MS: '5000',
      STEP_RETRY_BASE_MS: '200',
      // Few attempts: an outage that used them up would fail the jobs, which must not happen.
      STEP_MAX_ATTEMPTS: '3',
    });
    const api = await ServiceProcess.start({ ...shared, ROLE: 'api' });
    const worker = await ServiceProcess.start({ ...shared, ROLE: 'worker' });
    services.push(api, worker);

    const accepted: string[] = [];
    const publish = async (i: number) => {
      const query = new URLSearchParams({ repository: `${slowHost}/e2e/pg-outage-${randomUUID().slice(0, 8)}-${i}`, tag: 'v1' });
      const response = await api.fetch(`/v1/artifacts?${query}`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: component });
      if (response.status === 202) accepted.push(((await response.json()) as JobView).id);
      return response;
    };
    const jobs = async () =>
      database.query<{ id: string; state: string; steps: JobView['steps']; result: unknown; error: unknown }>('select id, state, steps, result, error from jobs');

    for (let i = 0; i < 6; i++) expect((await publish(i)).status).toBe(202);
    await eventually(async () => ((await jobs()).some((job) => job.steps.some((step) => step.state === 'running')) ? true : undefined), 30_000, 'a step to run');

    // The outage: every connection dropped, new ones refused.
    postgresProxy.cut();
    const cutAt = Date.now();
    const runningAtCut = (await jobs()).flatMap((job) => job.steps.filter((step) => step.state === 'running').map((step) => step.name));

    const readiness = await eventually(
      async () => {
        const response = await api.fetch('/health/ready');
        return response.status === 503 ? ((await response.json()) as { details: Record<string, { status: string; message?: string }> }) : undefined;
      },
      10_000,
      'readiness to go red',
    );
    const timed = async (request: () => Promise<Response>) => {
      const started = Date.now();
      const response = await request();
      const body = (await response.json()) as { code?: string };
      return { status: response.status, code: body.code, retryAfter: response.headers.get('retry-after'), type: response.headers.get('content-type'), ms: Date.now() - started };
    };
    const read = await timed(() => api.fetch(`/v1/jobs/${accepted[0]}`));
    const submit = await timed(() => publish(99));
    const listed = await timed(() => api.fetch('/v1/api-keys?limit=5'));
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - cutAt)));
    postgresProxy.restore();

    await eventually(async () => ((await api.fetch('/health/ready')).status === 200 ? true : undefined), 15_000, 'readiness to go green');
    const settled = await eventually(
      async () => {
        const rows = (await jobs()).filter((job) => accepted.includes(job.id));
        return rows.length === accepted.length && rows.every((job) => job.state === 'succeeded' || job.state === 'failed') ? rows : undefined;
      },
      45_000,
      'every accepted job to finish',
    ).catch(async () => (await jobs()).filter((job) => accepted.includes(job.id)));
    const signatures = await database.query<{ job_id: string; format: string }>('select job_id, format from signatures order by job_id, format');
    const formatsOf = (id: string) => signatures.filter((row) => row.job_id === id).map((row) => row.format);
    const halfWritten = settled.filter(
      (job) =>
        job.state !== 'succeeded' ||
        job.error !== null ||
        job.result === null ||
        job.steps.some((step) => step.state !== 'succeeded') ||
        JSON.stringify(formatsOf(job.id)) !== JSON.stringify(['cosign-classic', 'sigstore-bundle']),
    );

    const postponed = worker.logs.split('\n').filter((line) => line.includes('step postponed')).length;
    const postponedCounted = sumOf(await scrape(worker), 'wasm_signer_pipeline_steps_postponed_total', { reason: 'database_unavailable' });
    report('PostgreSQL down while steps run', {
      injected: `PostgreSQL connections of the API and the worker dropped and refused for ${OUTAGE_MS} ms, with ${accepted.length} publish jobs accepted and steps [${runningAtCut.join(', ')}] running; STEP_MAX_ATTEMPTS=3`,
      expected:
        'readiness 503 naming the database; GET job and list API keys: 503 problem+json DATABASE_UNAVAILABLE, POST artifact: 503 AUDIT_LOG_UNAVAILABLE, each with Retry-After, in under 5 s; steps postponed, not failed; after: every accepted job succeeded, 2 signature records each (cosign-classic, sigstore-bundle), no step left unfinished',
      saw:
        `readiness ${JSON.stringify(readiness.details.database)}; GET job ${read.status} ${read.code} retry-after=${read.retryAfter} in ${read.ms} ms; ` +
        `POST artifact ${submit.status} ${submit.code} retry-after=${submit.retryAfter} in ${submit.ms} ms; list ${listed.status} ${listed.code} in ${listed.ms} ms; ` +
        `${postponed} step run(s) postponed (counted: ${postponedCounted}); after: ${settled.filter((job) => job.state === 'succeeded').length}/${accepted.length} succeeded, ${halfWritten.length} with wrong rows ${JSON.stringify(halfWritten.map((job) => ({ state: job.state, error: job.error, steps: job.steps.map((s) => `${s.name}:${s.state}`), formats: formatsOf(job.id) })))}`,
    });

    expect(readiness.details.database).toMatchObject({ status: 'down' });
    // A change (the upload) is refused before its handler runs, because its audit entry cannot be written.
    const codes = [
      [read, 'DATABASE_UNAVAILABLE'],
      [submit, 'AUDIT_LOG_UNAVAILABLE'],
      [listed, 'DATABASE_UNAVAILABLE'],
    ] as const;
    for (const [answer, code] of codes) {
      expect(answer).toMatchObject({ status: 503, code, type: expect.stringContaining('application/problem+json') });
      expect(Number(answer.retryAfter)).toBeGreaterThan(0);
      expect(answer.ms).toBeLessThan(5_000);
    }
    expect(postponed).toBeGreaterThan(0);
    expect(postponedCounted).toBe(postponed);
    expect(settled).toHaveLength(accepted.length);
    expect(halfWritten).toEqual([]);
  }, 120_000);
});
