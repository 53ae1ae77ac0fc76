import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ArtifactUploadService } from '../../src/artifacts/artifact-upload.service';
import { LifecycleState } from '../../src/lifecycle/lifecycle-state';
import { MetricsService } from '../../src/metrics/metrics.service';
import type { PublishJobInput } from '../../src/pipeline/job-catalogue';
import { JobsRepository } from '../../src/pipeline/jobs.repository';
import { JobsService } from '../../src/pipeline/jobs.service';
import { PipelineQueues } from '../../src/pipeline/pipeline-queues.service';
import { stepJobId } from '../../src/pipeline/step-queues';
import { RegistryClient } from '../../src/registry/registry-client';
import { WebhookTargets } from '../../src/webhooks/webhook-targets.service';
import { RegistryReader } from '../support/registry-http';
import { REPO_ROOT } from '../support/test-environment';
import { type Integration, startIntegration } from './support/integration-env';
import { ReadinessChecks } from '../../src/health/readiness-checks';
import { bootstrapCaller } from '../../src/auth/caller-authenticator';

const caller = bootstrapCaller();
import { CallbackUrlPolicy } from '../../src/pipeline/callback-url-policy';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A body arriving in small chunks, as a request body does. */
const chunked = (bytes: Buffer, size = 4096) => Readable.from(Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)));

/**
 * The upload service for real: the body streamed into the local registry, the publish job recorded in
 * PostgreSQL and its pipeline queued in Redis. No worker runs: the push step stays queued.
 */
describe('ArtifactUploadService (registry, PostgreSQL, Redis)', () => {
  let it_: Integration;
  let registryHost: string;
  let registry: RegistryReader;
  let queues: PipelineQueues;
  let uploads: ArtifactUploadService;
  const jobCount = async () => Number((await it_.scratch.query<{ n: string }>('select count(*) as n from jobs'))[0]!.n);
  const newRepository = () => `int/upload-${randomUUID().slice(0, 12)}`;

  beforeAll(async () => {
    it_ = await startIntegration({ MAX_UPLOAD_BYTES: String(1024 * 1024) });
    registryHost = it_.env.stackEnv.LOCAL_REGISTRY!;
    registry = new RegistryReader(registryHost);
    queues = new PipelineQueues(it_.config, new ReadinessChecks(), new MetricsService());
    const client = new RegistryClient({ insecureHosts: it_.config.registry.insecureHosts, userAgent: 'wasm-signer-integration', requestTimeoutMs: it_.config.registry.timeoutMs });
    const jobs = new JobsService(new JobsRepository(it_.database), queues, new LifecycleState(), new MetricsService());
    const callbackPolicy = new CallbackUrlPolicy();
    new WebhookTargets(it_.config, callbackPolicy).onModuleInit();
    uploads = new ArtifactUploadService(it_.config, client, jobs, callbackPolicy);
  });

  afterAll(async () => {
    await queues?.onApplicationShutdown();
    await it_?.stop();
  });

  it('streams a component into the registry and records a publish job with its typed input, its push step queued', async () => {
    const path = newRepository();
    const before = await jobCount();
    const { job, created } = await uploads.upload(
      {
        caller,
        repository: `${registryHost}/${path}`,
        tag: 'v1',
        annotations: { 'org.opencontainers.image.source': 'https://example.com/src' },
        fileName: 'hello http.wasm',
        declaredLength: component.length,
      },
      chunked(component),
    );

    expect(created).toBe(true);
    expect(await jobCount()).toBe(before + 1);
    expect([job.type, job.state]).toEqual(['publish', 'queued']);
    expect(job.steps.map((s) => s.name)).toEqual(['push', 'sign', 'verify']);
    const input = job.input as unknown as PublishJobInput;
    expect(input).toEqual({
      repository: `${registryHost}/${path}`,
      tag: 'v1',
      requestedBy: { kind: 'api-key', keyId: 'bootstrap', name: 'bootstrap-admin' },
      annotations: { 'org.opencontainers.image.source': 'https://example.com/src' },
      title: expect.any(String),
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      wasm: { digest: sha256(component), size: component.length, kind: 'component', os: 'wasip2', imports: expect.any(Array), exports: expect.any(Array) },
    } satisfies PublishJobInput);
    expect(input.title).toContain('hello');
    expect(input.wasm.imports.length + input.wasm.exports.length).toBeGreaterThan(0);
    // What the job says was uploaded is in the registry, byte for byte.
    expect(await registry.blob(path, input.wasm.digest)).toEqual(component);
    // The pipeline waits in Redis, starting with the push step (under this file's prefix).
    const push = await queues.queues.get('push')!.getJob(stepJobId(job.id, 'push'));
    expect(push?.data).toEqual({ jobId: job.id, step: 'push' });
    expect(await push!.getState()).toBe('waiting');
  });

  it('answers a replay (same Idempotency-Key, same bytes) with the same job, and another body under that key with 422', async () => {
    const repository = `${registryHost}/${newRepository()}`;
    const request = { caller, repository, tag: 'v1', annotations: {}, idempotencyKey: randomUUID(), declaredLength: component.length };
    const first = await uploads.upload(request, chunked(component));
    const replay = await uploads.upload(request, chunked(component));
    expect([first.created, replay.created, replay.job.id]).toEqual([true, false, first.job.id]);

    const other = Buffer.from(component);
    other[other.length - 1] ^= 1;
    await expect(uploads.upload(request, chunked(other))).rejects.toMatchObject({ name: 'JobSubmissionError', code: 'IDEMPOTENCY_KEY_REUSED', jobId: expect.any(String) });
    expect(Number((await it_.scratch.query<{ n: string }>('select count(*) as n from jobs where idempotency_key = $1', [request.idempotencyKey]))[0]!.n)).toBe(1);
  });

  it('commits nothing and records no job when the body ends short of its Content-Length', async () => {
    const path = newRepository();
    const before = await jobCount();
    const half = component.subarray(0, Math.floor(component.length / 2));
    await expect(uploads.upload({ caller, repository: `${registryHost}/${path}`, annotations: {}, declaredLength: component.length }, chunked(half))).rejects.toMatchObject({
      status: 422,
      code: 'WASM_TRUNCATED',
    });
    expect(await jobCount()).toBe(before);
    expect(await registry.blobStatus(path, sha256(half))).toBe(404);
    expect(await registry.blobStatus(path, sha256(component))).toBe(404);
  });

  it('commits nothing and records no job for a file that is not WebAssembly, or one cut inside a section', async () => {
    const path = newRepository();
    const before = await jobCount();
    const text = Buffer.from('#!/bin/sh\necho this is not a wasm file\n'.repeat(100));
    await expect(uploads.upload({ caller, repository: `${registryHost}/${path}`, annotations: {} }, chunked(text, 512))).rejects.toMatchObject({
      status: 422,
      code: 'WASM_BAD_MAGIC',
    });
    // No Content-Length to compare with: the file itself ends inside a section.
    const cut = component.subarray(0, component.length - 7);
    await expect(uploads.upload({ caller, repository: `${registryHost}/${path}`, annotations: {} }, chunked(cut))).rejects.toMatchObject({ status: 422, code: 'WASM_TRUNCATED' });
    expect(await jobCount()).toBe(before);
    expect(await registry.blobStatus(path, sha256(text))).toBe(404);
    expect(await registry.blobStatus(path, sha256(cut))).toBe(404);
  });

  it('commits nothing and records no job when the client goes away mid-upload', async () => {
    const path = newRepository();
    const before = await jobCount();
    const body = new Readable({ read() {} });
    body.push(component.subarray(0, 8192));
    setTimeout(() => body.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 50);
    await expect(uploads.upload({ caller, repository: `${registryHost}/${path}`, annotations: {}, declaredLength: component.length }, body)).rejects.toMatchObject({
      status: 400,
      code: 'UPLOAD_ABORTED',
    });
    expect(await jobCount()).toBe(before);
    expect(await registry.blobStatus(path, sha256(component))).toBe(404);
    expect(await registry.blobStatus(path, sha256(component.subarray(0, 8192)))).toBe(404);
  });
});
