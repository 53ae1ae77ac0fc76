import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import type { LocalStackHandle } from '../dev/stack/ensure-local-stack';
import { FaultProxy } from './support/fault-proxy';
import { finishedJob, type JobView } from './support/jobs';
import { startPrivateStack } from './support/private-stack';
import { clearFaults, injectFault, pendingFaults } from './support/stack-faults';
import { ServiceProcess, eventually } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';
import { WebhookReceiver } from './support/webhook-receiver';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
const STEP_MAX_ATTEMPTS = 3;
const REGISTRY_TIMEOUT_MS = 1_000;
const SIGSTORE_TIMEOUT_MS = 2_000;

/**
 * Fault runs for the dependencies of a job that the other files leave out: the registry answering 503,
 * 429 with Retry-After, or too slowly while the push step writes the manifest; Fulcio and the TSA
 * refusing connections; a TSA throttling more often than sigstore-js retries; a Rekor that logs entries
 * after the service stopped waiting. Every dependency is reached
 * through a FaultProxy of this file's own (the registry is the shared one behind it, the Sigstore
 * services a private stack; Rekor is faulted through the stack's own fault injection), and each run prints what it injected, expected and saw. The longer matrix
 * (every dependency × fault, transient and lasting) is `npm run bench -- faults`.
 */
describe('jobs when a dependency fails', () => {
  const env = testEnvironment();
  const callbackSecret = `whsec_${randomBytes(24).toString('base64')}`;
  let stack: LocalStackHandle;
  let database: TestDatabase;
  let receiver: WebhookReceiver;
  let service: ServiceProcess;
  let proxies: { registry: FaultProxy; fulcio: FaultProxy; tsa: FaultProxy };
  let rekorUrl: string;
  /** Published before any fault: what the Sigstore runs sign. */
  let published: string;

  const report = (run: string, facts: { injected: string; expected: string; saw: string }) =>
    process.stdout.write(`[fault run] ${run}\n  injected: ${facts.injected}\n  expected: ${facts.expected}\n  saw:      ${facts.saw}\n`);

  beforeAll(async () => {
    stack = await startPrivateStack();
    rekorUrl = stack.env.SIGSTORE_REKOR_URL!;
    proxies = {
      registry: await FaultProxy.start(`http://${env.stackEnv.LOCAL_REGISTRY!}`),
      fulcio: await FaultProxy.start(stack.env.SIGSTORE_FULCIO_URL!),
      tsa: await FaultProxy.start(new URL(stack.env.SIGSTORE_TSA_URL!).origin),
    };
    database = await TestDatabase.create(env.postgresServerUrl);
    receiver = await WebhookReceiver.start();
    service = await ServiceProcess.start(
      testServiceEnv(database.url, 'dependency-faults', {
        ...stack.env,
        SIGSTORE_FULCIO_URL: proxies.fulcio.proxied(stack.env.SIGSTORE_FULCIO_URL!),
        SIGSTORE_TSA_URL: proxies.tsa.proxied(stack.env.SIGSTORE_TSA_URL!),
        SIGSTORE_TIMEOUT_MS: String(SIGSTORE_TIMEOUT_MS),
        REGISTRY_INSECURE_HOSTS: `${env.stackEnv.REGISTRY_INSECURE_HOSTS},${proxies.registry.host}`,
        REGISTRY_TIMEOUT_MS: String(REGISTRY_TIMEOUT_MS),
        HTTP_BODY_IDLE_TIMEOUT_MS: String(REGISTRY_TIMEOUT_MS),
        STEP_MAX_ATTEMPTS: String(STEP_MAX_ATTEMPTS),
        STEP_RETRY_BASE_MS: '200',
        WEBHOOK_ALLOWLIST: '127.0.0.1',
        WEBHOOK_RETRY_BASE_MS: '200',
        WEBHOOK_CALLBACK_SECRET: callbackSecret,
      }),
    );
    const job = await publish(newRepository());
    expect(job.state).toBe('succeeded');
    published = job.result!.reference as string;
  }, 60_000);

  afterEach(async () => {
    for (const proxy of Object.values(proxies)) {
      proxy.clear();
      await proxy.up();
    }
    await clearFaults(rekorUrl);
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    for (const proxy of Object.values(proxies ?? {})) await proxy.close();
    await receiver?.stop();
    await database?.drop();
    await stack?.stop();
  });

  const newRepository = () => `${proxies.registry.host}/e2e/dep-faults-${randomUUID().slice(0, 12)}`;
  const pathOf = (repository: string) => repository.slice(proxies.registry.host.length + 1);
  const accepted = async (response: Response): Promise<string> => {
    const body = (await response.json()) as JobView & { detail?: string };
    expect([response.status, body.detail]).toEqual([202, undefined]);
    return body.id;
  };
  const publish = async (repository: string, callbackPath?: string): Promise<JobView> => {
    const query = new URLSearchParams({ repository, tag: 'v1', ...(callbackPath ? { callbackUrl: receiver.url(callbackPath) } : {}) });
    const response = await service.fetch(`/v1/artifacts?${query}`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: component });
    return finishedJob(service, await accepted(response), 45_000);
  };
  const sign = async (callbackPath?: string): Promise<JobView> => {
    const body = JSON.stringify({ reference: published, ...(callbackPath ? { callbackUrl: receiver.url(callbackPath) } : {}) });
    const response = await service.fetch('/v1/signatures', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return finishedJob(service, await accepted(response), 45_000);
  };
  const step = (job: JobView, name: string) => job.steps.find((s) => s.name === name)!;
  const formats = async (job: JobView) =>
    (await database.query<{ format: string }>('select format from signatures where job_id = $1 order by format', [job.id])).map((row) => row.format);
  const treeSize = async () => ((await (await fetch(`${rekorUrl}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
  const callbacks = (path: string) =>
    eventually(async () => (receiver.on(path).length > 0 ? receiver.on(path) : undefined), 20_000, `a callback on ${path}`).then((received) =>
      received.map((c) => (new Webhook(callbackSecret).verify(c.body, c.headers) as { type: string }).type),
    );
  const describeJob = (job: JobView) =>
    `job ${job.state}${job.error ? ` ${job.error.code} (${job.error.step}): ${job.error.message.slice(0, 140)}` : ''}; steps ${job.steps.map((s) => `${s.name} ${s.state}×${s.attempts}`).join(', ')}`;

  it.each([
    ['503', { status: 503 }],
    ['429 with Retry-After', { status: 429, retryAfterSeconds: 2 }],
    ['an answer slower than REGISTRY_TIMEOUT_MS', { delayMs: REGISTRY_TIMEOUT_MS * 3 }],
  ])('the registry answers the push step with %s once: the step is retried and the job succeeds', async (what, fault) => {
    const repository = newRepository();
    proxies.registry.inject({ method: 'PUT', path: `/v2/${pathOf(repository)}/manifests/`, ...fault });
    const started = Date.now();

    const job = await publish(repository);

    const seconds = (Date.now() - started) / 1000;
    const records = await formats(job);
    report(`registry ${what} during the push`, {
      injected: `${JSON.stringify(fault)} on the first PUT of a manifest to ${repository}`,
      expected: 'push retried once, job succeeded, 1 signature record per format' + ('retryAfterSeconds' in fault ? ', the retry not before Retry-After' : ''),
      saw: `${describeJob(job)} in ${seconds.toFixed(1)} s; records ${JSON.stringify(records)}`,
    });
    expect(job).toMatchObject({ state: 'succeeded', error: null });
    expect(step(job, 'push').attempts).toBe(2);
    expect(records).toEqual(['cosign-classic', 'sigstore-bundle']);
    expect(proxies.registry.pending()).toEqual([]);
    if ('retryAfterSeconds' in fault) expect(seconds).toBeGreaterThanOrEqual(fault.retryAfterSeconds);
  });

  it('Fulcio refuses connections for a moment: the sign step is retried and the job succeeds', async () => {
    const down = proxies.fulcio.goDownOn({ method: 'POST' });
    const restored = down.then(() => new Promise((resolve) => setTimeout(resolve, 1_000))).then(() => proxies.fulcio.up());
    const entries = await treeSize();

    const job = await sign('/fulcio-down');

    await restored;
    const records = await formats(job);
    const types = await callbacks('/fulcio-down');
    report('Fulcio down for 1 s', {
      injected: 'Fulcio proxy closed (connections refused) from the first POST, for 1 s',
      expected: 'sign step retried, job succeeded, 1 signature record per format, 1 Rekor entry per signature, one job.succeeded',
      saw: `${describeJob(job)}; records ${JSON.stringify(records)}; Rekor entries +${(await treeSize()) - entries}; callbacks ${JSON.stringify(types)}`,
    });
    expect(job).toMatchObject({ state: 'succeeded', error: null });
    expect(step(job, 'sign').attempts).toBeGreaterThanOrEqual(2);
    expect(records).toEqual(['cosign-classic', 'sigstore-bundle']);
    expect((await treeSize()) - entries).toBe(2);
    expect(types).toEqual(['job.succeeded']);
  });

  it('the TSA refuses connections until the retries are spent: the job fails with TSA_UNREACHABLE, nothing is logged in Rekor, job.failed is sent', async () => {
    await proxies.tsa.down();
    const entries = await treeSize();

    const job = await sign('/tsa-down');

    const types = await callbacks('/tsa-down');
    const logged = (await treeSize()) - entries;
    report('TSA down for good', {
      injected: 'TSA proxy closed: every connection refused',
      expected: `job failed with TSA_UNREACHABLE after ${STEP_MAX_ATTEMPTS} attempts of the sign step, no Rekor entry, no signature record, one job.failed`,
      saw: `${describeJob(job)}; Rekor entries +${logged}; records ${JSON.stringify(await formats(job))}; callbacks ${JSON.stringify(types)}`,
    });
    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ code: 'TSA_UNREACHABLE', step: 'sign', message: expect.stringMatching(/timestamp authority could not be reached.*ECONNREFUSED/) });
    expect(step(job, 'sign')).toMatchObject({ state: 'failed', attempts: STEP_MAX_ATTEMPTS });
    // The TSA is asked before Rekor: a signature that is never attached leaves no entry in the log.
    expect(logged).toBe(0);
    expect(await formats(job)).toEqual([]);
    expect(types).toEqual(['job.failed']);
  });

  it('Rekor answers later than SIGSTORE_TIMEOUT_MS to every try of a signature but logs it: the retry submits that signature again, one entry per signature', async () => {
    await injectFault(rekorUrl, { method: 'POST', path: '/api/v1/log/entries', delayMs: SIGSTORE_TIMEOUT_MS + 1_000, count: 3 });
    const entries = await treeSize();

    const job = await sign();

    const logged = (await eventually(async () => ((await pendingFaults(rekorUrl)).length === 0 ? treeSize() : undefined), 20_000, 'the late entries')) - entries;
    const records = await formats(job);
    report('Rekor slow × 3', {
      injected: `Rekor handles its next 3 entry submissions ${SIGSTORE_TIMEOUT_MS + 1_000} ms late (the service gives up after ${SIGSTORE_TIMEOUT_MS} ms)`,
      expected: 'sign step retried with the same signature (Rekor answers 409 with the entry it logged late), job succeeded, 2 Rekor entries for 2 signatures',
      saw: `${describeJob(job)}; records ${JSON.stringify(records)}; Rekor entries +${logged}`,
    });
    expect(job).toMatchObject({ state: 'succeeded', error: null });
    expect(step(job, 'sign').attempts).toBe(2);
    expect(records).toEqual(['cosign-classic', 'sigstore-bundle']);
    expect(logged).toBe(2);
  });

  it('the TSA answers 429 with Retry-After more often than sigstore-js retries: the step waits as asked, and Rekor gets one entry per signature', async () => {
    proxies.tsa.inject({ method: 'POST', status: 429, retryAfterSeconds: 2, count: 3 });
    const entries = await treeSize();
    const started = Date.now();

    const job = await sign();

    const seconds = (Date.now() - started) / 1000;
    const logged = (await treeSize()) - entries;
    report('TSA 429 (Retry-After: 2) × 3', {
      injected: 'TSA answers its next 3 requests (every try sigstore-js makes for the first signature) with 429, Retry-After: 2',
      expected: 'sign step retried not before 2 s, job succeeded, 2 Rekor entries for 2 signatures',
      saw: `${describeJob(job)} in ${seconds.toFixed(1)} s; Rekor entries +${logged}`,
    });
    expect(job).toMatchObject({ state: 'succeeded', error: null });
    expect(step(job, 'sign').attempts).toBe(2);
    expect(seconds).toBeGreaterThanOrEqual(2);
    expect(logged).toBe(2);
    expect(proxies.tsa.pending()).toEqual([]);
  });
});
