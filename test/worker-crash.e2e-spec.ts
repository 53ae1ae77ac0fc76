import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finishedJob, type JobView } from './support/jobs';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess, eventually } from './support/service-process';
import { tarGzBytes } from './support/source-archives';
import { TcpProxy } from './support/tcp-proxy';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, TEST_ADMIN_KEY, testEnvironment, testServiceEnv } from './support/test-environment';
import { WebhookReceiver } from './support/webhook-receiver';

/**
 * Fault runs: a worker killed with SIGKILL in the middle of a step (the push, a webhook delivery; the
 * sign step has its own file, sign-crash-recovery; the attest step of a build) and a second worker started afterwards. Each run
 * prints what it injected, what it expected and what it saw. The promise: the job completes exactly
 * once, with one record of each kind, and the caller is notified once (a delivery that is repeated
 * carries the same webhook-id, so the receiver can tell).
 */
describe('a worker killed with SIGKILL in the middle of a step', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  const callbackSecret = `whsec_${Buffer.from(randomUUID()).toString('base64')}`;
  let database: TestDatabase;
  let receiver: WebhookReceiver;
  const services: ServiceProcess[] = [];
  const proxies: TcpProxy[] = [];

  const report = (run: string, facts: { injected: string; expected: string; saw: string }) =>
    process.stdout.write(`[fault run] ${run}\n  injected: ${facts.injected}\n  expected: ${facts.expected}\n  saw:      ${facts.saw}\n`);

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    receiver = await WebhookReceiver.start();
  });

  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop('SIGKILL')));
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await receiver?.stop();
    await database?.drop();
  });

  /** An API and a worker sharing a queue prefix of their own; a dead worker's step is taken over after about 3 s. */
  async function pipeline(name: string, extra: Record<string, string> = {}) {
    const shared = testServiceEnv(database.url, name, {
      ...extra,
      // A dead worker's step is taken over after about this long.
      WORKER_LOCK_DURATION_MS: '3000',
      WEBHOOK_ALLOWLIST: '127.0.0.1',
      WEBHOOK_CALLBACK_SECRET: callbackSecret,
      WEBHOOK_RETRY_BASE_MS: '200',
    });
    const api = await ServiceProcess.start({ ...shared, ROLE: 'api' });
    const doomed = await ServiceProcess.start({ ...shared, ROLE: 'worker' });
    services.push(api, doomed);
    const rescue = async () => {
      const rescuer = await ServiceProcess.start({ ...shared, ROLE: 'worker' });
      services.push(rescuer);
      return rescuer;
    };
    return { api, doomed, rescue };
  }

  async function publish(api: ServiceProcess, repository: string, callbackPath: string): Promise<string> {
    const query = new URLSearchParams({ repository, tag: 'v1', callbackUrl: receiver.url(callbackPath) });
    const response = await api.fetch(`/v1/artifacts?${query}`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: component });
    const body = (await response.json()) as JobView & { detail?: string };
    expect([response.status, body.detail]).toEqual([202, undefined]);
    return body.id;
  }

  const stepState = async (api: ServiceProcess, id: string, step: string) =>
    ((await (await api.fetch(`/v1/jobs/${id}`)).json()) as JobView).steps.find((s) => s.name === step)?.state;

  /** What the registry and the database hold for the job: one artifact, one signature record per format. */
  async function recordsOf(id: string, repository: string, host: string) {
    const signatures = await database.query<{ format: string }>('select format from signatures where job_id = $1 order by format', [id]);
    const job = await finishedJob(services[0]!, id, 5_000).catch(() => undefined);
    const registry = new RegistryReader(host);
    const path = repository.slice(host.length + 1);
    const digest = (job?.result?.manifestDigest as string | undefined) ?? '';
    const sig = await registry.manifest(path, `${digest.replace(':', '-')}.sig`);
    return { formats: signatures.map((row) => row.format), sigLayers: (sig.json?.layers as unknown[] | undefined)?.length ?? 0 };
  }

  it('during the push: another worker completes the job once, with one signature record per format, and the caller is told once', async () => {
    // The registry behind a slow link, so that the push step is in flight long enough to be interrupted.
    const [host, port] = registryHost.split(':') as [string, string];
    const slowRegistry = await TcpProxy.start(host, Number(port), { latencyMs: 150 });
    proxies.push(slowRegistry);
    const slowHost = `127.0.0.1:${slowRegistry.port}`;
    const { api, doomed, rescue } = await pipeline('crash-push', { REGISTRY_INSECURE_HOSTS: `${env.stackEnv.REGISTRY_INSECURE_HOSTS},${slowHost}` });
    const repository = `${slowHost}/e2e/crash-push-${randomUUID().slice(0, 8)}`;
    const id = await publish(api, repository, '/crash-push');

    await eventually(async () => ((await stepState(api, id, 'push')) === 'running' ? true : undefined), 30_000, 'the push step to start');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await doomed.stop('SIGKILL')).toBeNull();
    const killedIn = await stepState(api, id, 'push');
    const rescuer = await rescue();

    const job = await finishedJob(api, id, 90_000);
    const callbacks = await eventually(async () => (receiver.on('/crash-push').length > 0 ? receiver.on('/crash-push') : undefined), 30_000, 'the callback');
    const records = await recordsOf(id, repository, slowHost);
    report('worker SIGKILLed during push', {
      injected: `registry reached through a 150 ms link; worker killed while the push step was ${killedIn}`,
      expected: 'job succeeded, push finished by the second worker, 1 signature record per format, 1 .sig layer, callbacks all with one webhook-id',
      saw: `job ${job.state}, push by ${job.steps.find((s) => s.name === 'push')?.worker === rescuer.instanceId ? 'the second worker' : 'the first worker'}, records ${JSON.stringify(records.formats)}, .sig layers ${records.sigLayers}, ${callbacks.length} callback(s) with ids ${JSON.stringify([...new Set(callbacks.map((c) => c.headers['webhook-id']))])}`,
    });
    expect(job).toMatchObject({ state: 'succeeded', error: null });
    expect(job.steps.find((s) => s.name === 'push')!.worker).toBe(rescuer.instanceId);
    expect(records).toEqual({ formats: ['cosign-classic', 'sigstore-bundle'], sigLayers: 1 });
    expect(new Set(callbacks.map((c) => c.headers['webhook-id'])).size).toBe(1);
    expect(JSON.parse(callbacks[0]!.body)).toMatchObject({ type: 'job.succeeded', data: { job: { id } } });
  }, 180_000);

  it('during a webhook delivery: the delivery is made again with the same webhook-id, and recorded once', async () => {
    const { api, doomed, rescue } = await pipeline('crash-delivery');
    const subscription = (await (
      await api.fetch('/v1/webhooks', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_KEY}` },
        body: JSON.stringify({ url: receiver.url('/crash-delivery'), events: ['job.succeeded'] }),
      })
    ).json()) as { id: string };
    // The receiver holds its first answer: the delivery is in flight when the worker dies.
    const held: Array<() => void> = [];
    receiver.answer((request, res) => {
      if (request.path === '/crash-delivery' && receiver.on('/crash-delivery').length === 1) held.push(() => res.writeHead(204).end());
      else res.writeHead(204).end();
    });
    const repository = `${registryHost}/e2e/crash-delivery-${randomUUID().slice(0, 8)}`;
    const id = await publish(api, repository, '/crash-delivery-callback');
    const job = await finishedJob(api, id, 60_000);
    expect(job.state).toBe('succeeded');

    await eventually(async () => (held.length > 0 ? true : undefined), 30_000, 'the delivery to reach the receiver');
    expect(await doomed.stop('SIGKILL')).toBeNull();
    for (const answer of held) answer();
    await rescue();

    const deliveries = await eventually(
      async () => {
        const rows = await database.query<{ id: string; state: string }>('select id, state from webhook_deliveries where job_id = $1 and webhook_id = $2', [id, subscription.id]);
        return rows.length > 0 && rows.every((row) => row.state === 'delivered') ? rows : undefined;
      },
      60_000,
      'the delivery recorded as delivered',
    );
    const received = receiver.on('/crash-delivery');
    const ids = [...new Set(received.map((r) => r.headers['webhook-id']))];
    report('worker SIGKILLed during a webhook delivery', {
      injected: 'receiver held its answer to the first delivery; the worker was killed while waiting for it',
      expected: 'the delivery made again by the second worker, every request with the same webhook-id, one delivery record, delivered',
      saw: `${received.length} request(s) to the receiver, webhook-ids ${JSON.stringify(ids)}, ${deliveries.length} delivery record(s): ${deliveries.map((d) => d.state).join(', ')}`,
    });
    expect(received.length).toBeGreaterThanOrEqual(2);
    expect(ids).toEqual([deliveries[0]!.id]);
    expect(deliveries).toHaveLength(1);
  }, 180_000);
  it('during the attest step, after the provenance was signed and recorded: another worker attaches it once, and the caller is told once', async () => {
    // The registry behind a slow link, so that attaching the provenance takes a few round trips of 150 ms.
    const [host, port] = registryHost.split(':') as [string, string];
    const slowRegistry = await TcpProxy.start(host, Number(port), { latencyMs: 150 });
    proxies.push(slowRegistry);
    const slowHost = `127.0.0.1:${slowRegistry.port}`;
    // Builds run in the sandbox as another user: a work directory it can reach, on both workers.
    const workDir = mkdtempSync(join(tmpdir(), 'wasm-signer-crash-attest-work-'));
    chmodSync(workDir, 0o711);
    const { api, doomed, rescue } = await pipeline('crash-attest', {
      REGISTRY_INSECURE_HOSTS: `${env.stackEnv.REGISTRY_INSECURE_HOSTS},${slowHost}`,
      BUILD_WORKER: 'also',
      BUILD_WORK_DIR: workDir,
      BUILD_TIMEOUT_MS: '180000',
      RATE_LIMIT_BUILDS_PER_MINUTE: '0',
    });
    await eventually(
      async () => {
        const builders = (await (await api.fetch('/v1/builders')).json()) as { name: string; available: boolean }[];
        return builders.find((b) => b.name === 'componentize-js')?.available ? true : undefined;
      },
      30_000,
      'the build worker to report its builders',
    );
    const repository = `${slowHost}/e2e/crash-attest-${randomUUID().slice(0, 8)}`;
    const source = await tarGzBytes([
      { name: 'index.js', content: 'export function greet(name) { return `Hello, ${name}!`; }\n' },
      { name: 'wit/hello.wit', content: 'package e2e:hello;\n\nworld hello {\n  export greet: func(name: string) -> string;\n}\n' },
    ]);
    const query = new URLSearchParams({
      repository,
      tag: 'v1',
      builder: 'componentize-js',
      options: JSON.stringify({ entry: 'index.js', wit: 'wit', world: 'hello' }),
      callbackUrl: receiver.url('/crash-attest'),
    });
    const accepted = await api.fetch(`/v1/builds?${query}`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: source });
    const body = (await accepted.json()) as JobView & { detail?: string };
    expect([accepted.status, body.detail]).toEqual([202, undefined]);
    const id = body.id;

    // Killed once the attestation is recorded (signed, in Rekor, in the database) and while it is being attached.
    const attestations = async () => Number((await database.query<{ n: string }>('select count(*) as n from attestations where job_id = $1', [id]))[0]!.n);
    await eventually(async () => ((await attestations()) > 0 ? true : undefined), 180_000, 'the provenance to be recorded');
    expect(await doomed.stop('SIGKILL')).toBeNull();
    const killedIn = await stepState(api, id, 'attest');
    const rescuer = await rescue();

    const job = await finishedJob(api, id, 120_000);
    const callbacks = await eventually(async () => (receiver.on('/crash-attest').length > 0 ? receiver.on('/crash-attest') : undefined), 30_000, 'the callback');
    const records = await recordsOf(id, repository, slowHost);
    const registry = new RegistryReader(slowHost);
    const path = repository.slice(slowHost.length + 1);
    const manifestDigest = (job.result?.manifestDigest as string | undefined) ?? '';
    const fallbackIndex = await registry.manifest(path, manifestDigest.replace(':', '-'));
    const provenanceReferrers = ((fallbackIndex.json?.manifests ?? []) as { annotations?: Record<string, string> }[]).filter(
      (m) => m.annotations?.['dev.sigstore.bundle.predicateType'] === 'https://slsa.dev/provenance/v1',
    );
    const recorded = await attestations();
    report('worker SIGKILLed during attest', {
      injected: `a build whose registry is reached through a 150 ms link; worker killed once the provenance was recorded, with the attest step ${killedIn}`,
      expected:
        'job succeeded, attest finished by the second worker, 1 attestation record, 1 provenance referrer, 1 signature record per format, callbacks all with one webhook-id',
      saw: `job ${job.state}, attest by ${job.steps.find((s) => s.name === 'attest')?.worker === rescuer.instanceId ? 'the second worker' : 'the first worker'}, ${recorded} attestation record(s), ${provenanceReferrers.length} provenance referrer(s), records ${JSON.stringify(records.formats)}, ${callbacks.length} callback(s) with ids ${JSON.stringify([...new Set(callbacks.map((c) => c.headers['webhook-id']))])}`,
    });
    expect(killedIn).toBe('running');
    expect(job).toMatchObject({ state: 'succeeded', error: null });
    expect(job.steps.find((s) => s.name === 'attest')!.worker).toBe(rescuer.instanceId);
    expect(recorded).toBe(1);
    expect(provenanceReferrers).toHaveLength(1);
    expect(records).toEqual({ formats: ['cosign-classic', 'sigstore-bundle'], sigLayers: 1 });
    expect(new Set(callbacks.map((c) => c.headers['webhook-id'])).size).toBe(1);
    expect(JSON.parse(callbacks[0]!.body)).toMatchObject({ type: 'job.succeeded', data: { job: { id } } });
  }, 300_000);
});
