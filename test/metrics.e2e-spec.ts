import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedJob, type JobView } from './support/jobs';
import { eventually, ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { type Sample, scrape, sumOf as sum } from './support/metrics-exposition';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';
import { WebhookReceiver } from './support/webhook-receiver';

/**
 * After a publish job through a real service (registry, Fulcio, Rekor, TSA of the local stack) with a
 * callback: GET /metrics shows the job, its steps, the requests it made, the queues and the delivery;
 * its step log lines name the job, the request's log line its request ID.
 */
describe('metrics and log context of a publish job', () => {
  const env = testEnvironment();
  const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  let database: TestDatabase;
  let service: ServiceProcess;
  let receiver: WebhookReceiver;
  let job: JobView;
  let requestId: string;
  let samples: Sample[];

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    receiver = await WebhookReceiver.start();
    service = await ServiceProcess.start(
      testServiceEnv(database.url, 'metrics', {
        WEBHOOK_ALLOWLIST: '127.0.0.1',
        WEBHOOK_CALLBACK_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
      }),
    );
    const repository = `${env.stackEnv.LOCAL_REGISTRY}/e2e/metrics-${randomUUID().slice(0, 8)}`;
    const response = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1&callbackUrl=${encodeURIComponent(receiver.url('/done'))}`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm', 'x-request-id': `metrics-e2e-${randomUUID()}` },
      body: component,
    });
    expect(response.status).toBe(202);
    requestId = response.headers.get('x-request-id')!;
    job = await finishedJob(service, ((await response.json()) as JobView).id);
    await eventually(async () => (receiver.on('/done').length > 0 ? true : undefined), 20_000, 'the callback');
    // The delivery is counted once recorded, just after the receiver answered.
    samples = await eventually(
      async () => {
        const scraped = await scrape(service);
        return sum(scraped, 'wasm_signer_webhook_deliveries_total', { outcome: 'delivered' }) >= 1 ? scraped : undefined;
      },
      10_000,
      'the delivery counted',
    );
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await receiver?.stop();
    await database?.drop();
  });

  it('counts the job finished, by type and outcome', () => {
    expect(job.state).toBe('succeeded');
    expect(sum(samples, 'wasm_signer_jobs_finished_total', { type: 'publish', outcome: 'succeeded' })).toBe(1);
    expect(sum(samples, 'wasm_signer_jobs_finished_total', { outcome: 'failed' })).toBe(0);
    expect(sum(samples, 'jobs_created_total', { type: 'publish' })).toBe(1);
  });

  it('observes each step of the job once, in the step histograms', () => {
    for (const step of job.steps.map((s) => s.name)) {
      expect(sum(samples, 'pipeline_step_duration_seconds_count', { step, outcome: 'succeeded' })).toBe(1);
      expect(sum(samples, 'pipeline_step_duration_seconds_sum', { step, outcome: 'succeeded' })).toBeGreaterThan(0);
    }
  });

  it('times the requests to Fulcio, Rekor and the TSA, and to the registry, by status', () => {
    const sigstore = 'wasm_signer_sigstore_request_duration_seconds_count';
    expect(sum(samples, sigstore, { service: 'fulcio', method: 'POST', status: /^2\d\d$/ })).toBeGreaterThanOrEqual(1);
    // Two signatures (cosign classic and the bundle), each its own Rekor entry and timestamp.
    expect(sum(samples, sigstore, { service: 'rekor', method: 'POST', status: /^2\d\d$/ })).toBeGreaterThanOrEqual(2);
    expect(sum(samples, sigstore, { service: 'tsa', method: 'POST', status: /^2\d\d$/ })).toBeGreaterThanOrEqual(2);
    expect(sum(samples, sigstore, { status: 'error' })).toBe(0);
    expect(sum(samples, 'wasm_signer_sigstore_request_duration_seconds_sum', { service: 'fulcio' })).toBeGreaterThan(0);

    const registry = 'wasm_signer_registry_request_duration_seconds_count';
    expect(sum(samples, registry, { method: 'PUT', status: '201' })).toBeGreaterThanOrEqual(2);
    expect(sum(samples, registry, { method: 'GET', status: /^2\d\d$/ })).toBeGreaterThanOrEqual(1);
    expect(sum(samples, registry, { status: /^5\d\d$|^error$/ })).toBe(0);
  });

  it('shows every step queue with nothing left waiting', () => {
    for (const queue of ['push', 'sign', 'verify']) {
      expect(samples.some((s) => s.name === 'wasm_signer_queue_jobs' && s.labels.queue === queue && s.labels.state === 'waiting')).toBe(true);
      expect(sum(samples, 'wasm_signer_queue_jobs', { queue, state: /^(waiting|active|delayed)$/ })).toBe(0);
      expect(sum(samples, 'wasm_signer_queue_oldest_waiting_age_seconds', { queue })).toBe(0);
    }
  });

  it('counts the callback delivered', () => {
    expect(sum(samples, 'wasm_signer_webhook_deliveries_total', { outcome: 'delivered' })).toBe(1);
    expect(sum(samples, 'wasm_signer_webhook_deliveries_total', { outcome: /^(retrying|failed|refused|abandoned)$/ })).toBe(0);
  });

  it("logs each step with the job's ID, and the request with its request ID", () => {
    const lines = service.logs
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const stepLines = lines.filter((line) => line.msg === 'step succeeded' && line.jobId === job.id);
    expect(stepLines.map((line) => line.step).sort()).toEqual(job.steps.map((s) => s.name).sort());
    const requestLine = lines.find((line) => line.msg === 'request completed' && line.requestId === requestId);
    expect(requestLine).toMatchObject({ requestId, req: { method: 'POST', url: expect.stringContaining('/v1/artifacts') }, res: { statusCode: 202 } });
  });
});
