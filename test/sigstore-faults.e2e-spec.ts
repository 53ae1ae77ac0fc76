import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import type { LocalStackHandle } from '../dev/stack/ensure-local-stack';
import { finishedJob, type JobView } from './support/jobs';
import { startPrivateStack } from './support/private-stack';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess, eventually } from './support/service-process';
import { scrape, sumOf } from './support/metrics-exposition';
import { clearFaults, injectFault, pendingFaults } from './support/stack-faults';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment } from './support/test-environment';
import { WebhookReceiver } from './support/webhook-receiver';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
const ENTRIES = '/api/v1/log/entries';
const STEP_MAX_ATTEMPTS = 3;

/**
 * Signing when Fulcio, Rekor or the TSA misbehave, against a Sigstore stack of this file's own that
 * fails on command (dev/stack/fault-injection.ts). sigstore-js itself tries each request three times;
 * what it gives up on, the pipeline retries as a step (STEP_MAX_ATTEMPTS) or fails for good.
 */
describe('signing when the Sigstore services fail', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryReader(registryHost);
  const callbackSecret = `whsec_${randomBytes(24).toString('base64')}`;
  let stack: LocalStackHandle;
  let database: TestDatabase;
  let receiver: WebhookReceiver;
  let service: ServiceProcess;
  /** A manifest published (and signed) before any fault, by digest. */
  let published: string;
  let urls: { fulcio: string; rekor: string; tsa: string };

  beforeAll(async () => {
    stack = await startPrivateStack();
    urls = { fulcio: stack.env.SIGSTORE_FULCIO_URL!, rekor: stack.env.SIGSTORE_REKOR_URL!, tsa: stack.env.SIGSTORE_TSA_URL! };
    database = await TestDatabase.create(env.postgresServerUrl);
    receiver = await WebhookReceiver.start();
    service = await ServiceProcess.start({
      ...stack.env,
      // The shared registry; the Sigstore services are this file's own.
      REGISTRY_INSECURE_HOSTS: env.stackEnv.REGISTRY_INSECURE_HOSTS!,
      DATABASE_URL: database.url,
      REDIS_URL: env.redisUrl,
      QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
      STEP_MAX_ATTEMPTS: String(STEP_MAX_ATTEMPTS),
      STEP_RETRY_BASE_MS: '200',
      WEBHOOK_ALLOWLIST: '127.0.0.1',
      WEBHOOK_RETRY_BASE_MS: '200',
      WEBHOOK_CALLBACK_SECRET: callbackSecret,
    });
    const job = await publish(newRepository());
    expect(job.state).toBe('succeeded');
    published = job.result!.reference as string;
  }, 120_000);

  afterEach(async () => {
    for (const url of Object.values(urls)) await clearFaults(url);
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await receiver?.stop();
    await database?.drop();
    await stack?.stop();
  });

  const newRepository = () => `${registryHost}/e2e/faults-${randomUUID().slice(0, 12)}`;
  const accepted = async (response: Response): Promise<JobView> => {
    expect(response.status).toBe(202);
    return (await response.json()) as JobView;
  };
  const publish = async (repository: string, query = ''): Promise<JobView> => {
    const response = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    return finishedJob(service, (await accepted(response)).id, 90_000);
  };
  const sign = async (reference: string, extra: Record<string, unknown> = {}): Promise<JobView> => {
    const response = await service.fetch('/v1/signatures', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reference, ...extra }) });
    return finishedJob(service, (await accepted(response)).id, 90_000);
  };
  const step = (job: JobView, name: string) => job.steps.find((s) => s.name === name)!;
  /** Requests to `service` that got `status` (a code, or "error"), as GET /metrics counts them. */
  const requests = async (name: string, status: string) => sumOf(await scrape(service), 'wasm_signer_sigstore_request_duration_seconds_count', { service: name, status });
  const treeSize = async () => ((await (await fetch(`${urls.rekor}/api/v1/log`)).json()) as { treeSize: number }).treeSize;

  it('Rekor stored the entry but its answer was lost: the retry meets 409 and the signer uses the existing entry', async () => {
    const before = await treeSize();
    const [rekor503, rekor409] = [await requests('rekor', '503'), await requests('rekor', '409')];
    await injectFault(urls.rekor, { method: 'POST', path: ENTRIES, status: 503, afterHandling: true });

    const job = await sign(published);

    expect(job.error).toBeNull();
    expect(job.state).toBe('succeeded');
    expect(step(job, 'sign').attempts).toBe(1);
    expect(await pendingFaults(urls.rekor)).toEqual([]);
    // One entry per signature: the resubmitted one was not logged twice, and the signature whose answer
    // was lost carries the entry stored by the first submission.
    expect(await treeSize()).toBe(before + 2);
    expect(job.result!.signatures.map((s: { logIndex: number }) => s.logIndex).sort()).toEqual([before, before + 1]);
    // The metrics show what happened on the wire: the lost answer and the conflict that followed.
    expect([(await requests('rekor', '503')) - rekor503, (await requests('rekor', '409')) - rekor409]).toEqual([1, 1]);
  });

  it('Fulcio 503 more often than sigstore-js retries: the sign step is retried and the job succeeds', async () => {
    // sigstore-js makes three tries per request; all three fail, so the step's first attempt fails.
    const fulcio503 = await requests('fulcio', '503');
    await injectFault(urls.fulcio, { method: 'POST', status: 503, count: 3 });

    const job = await sign(published);

    expect(job.error).toBeNull();
    expect(job.state).toBe('succeeded');
    expect(step(job, 'sign').attempts).toBe(2);
    expect(await pendingFaults(urls.fulcio)).toEqual([]);
    expect((await requests('fulcio', '503')) - fulcio503).toBe(3);
  });

  it('Fulcio 429 (with Retry-After) more often than sigstore-js retries: the step is retried and the job succeeds', async () => {
    await injectFault(urls.fulcio, { method: 'POST', status: 429, retryAfterSeconds: 1, count: 3 });

    const job = await sign(published);

    expect(job.error).toBeNull();
    expect(job.state).toBe('succeeded');
    expect(step(job, 'sign').attempts).toBe(2);
  });

  it('a slow TSA: the signature is made once it answers', async () => {
    await injectFault(urls.tsa, { method: 'POST', delayMs: 3_000 });
    const started = Date.now();

    const job = await sign(published);

    expect(job.state).toBe('succeeded');
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    expect(await pendingFaults(urls.tsa)).toEqual([]);
  });

  it('Rekor 500 until the retries are spent: the job fails with the reason, and job.failed is delivered', async () => {
    const rekor500 = await requests('rekor', '500');
    const failedJobs = sumOf(await scrape(service), 'wasm_signer_jobs_finished_total', { type: 'sign', outcome: 'failed' });
    await injectFault(urls.rekor, { method: 'POST', path: ENTRIES, status: 500, count: 1_000 });

    const job = await sign(published, { callbackUrl: receiver.url('/failed') });

    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ code: 'REKOR_UNAVAILABLE', step: 'sign', message: expect.stringContaining('HTTP 500') });
    expect(step(job, 'sign')).toMatchObject({ state: 'failed', attempts: STEP_MAX_ATTEMPTS });
    expect(step(job, 'verify').state).not.toBe('succeeded');
    // Three tries per request by sigstore-js, in each attempt of the step.
    expect((await requests('rekor', '500')) - rekor500).toBeGreaterThanOrEqual(3 * STEP_MAX_ATTEMPTS);
    expect(sumOf(await scrape(service), 'wasm_signer_jobs_finished_total', { type: 'sign', outcome: 'failed' }) - failedJobs).toBe(1);

    const [callback] = await eventually(async () => (receiver.on('/failed').length > 0 ? receiver.on('/failed') : undefined), 30_000, 'the job.failed callback');
    const payload = new Webhook(callbackSecret).verify(callback!.body, callback!.headers) as { type: string; data: { job: JobView } };
    expect(payload.type).toBe('job.failed');
    expect(payload.data.job).toMatchObject({ id: job.id, state: 'failed', error: { code: 'REKOR_UNAVAILABLE', step: 'sign' } });
  });

  it("a signature that does not verify (Rekor's SET altered) fails the job with SIGNATURE_INVALID and is not attached", async () => {
    const repository = newRepository();
    await injectFault(urls.rekor, { method: 'POST', path: ENTRIES, corrupt: 'signedEntryTimestamp' });

    const job = await publish(repository);

    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ code: 'SIGNATURE_INVALID', step: 'sign' });
    // Permanent: not retried.
    expect(step(job, 'sign')).toMatchObject({ state: 'failed', attempts: 1 });
    expect(await pendingFaults(urls.rekor)).toEqual([]);
    // The artifact was pushed; no signature of either kind was attached to it.
    const path = repository.slice(registryHost.length + 1);
    const manifest = await registry.manifest(path, 'v1');
    expect(manifest.status).toBe(200);
    const signatureTag = manifest.digest!.replace(':', '-');
    expect((await registry.tags(path)).filter((tag) => tag.startsWith(signatureTag))).toEqual([]);
    const referrers = await fetch(`http://${registryHost}/v2/${path}/referrers/${manifest.digest}`);
    if (referrers.ok) expect(((await referrers.json()) as { manifests: unknown[] }).manifests).toEqual([]);
  });
});
