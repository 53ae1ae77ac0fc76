import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedJob, type JobView } from './support/jobs';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';

const FIXTURES = join(REPO_ROOT, 'src/artifacts/__fixtures__');
const component = readFileSync(join(FIXTURES, 'hello-http.wasm'));
const coreModule = readFileSync(join(FIXTURES, 'hello-module.wasm'));

/** An Idempotency-Key stands for one whole request: the same request gets the same job, any other a 422. */
describe('Idempotency-Key', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryReader(registryHost);
  const policy = { certificateIdentity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY, certificateOidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL };
  let database: TestDatabase;
  let service: ServiceProcess;

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start(testServiceEnv(database.url, 'idempotency'));
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
  });

  const newRepository = () => `${registryHost}/e2e/idem-${randomUUID().slice(0, 8)}`;
  const path = (repository: string) => repository.slice(registryHost.length + 1);
  const raw = (repository: string, body: Buffer, key: string) =>
    service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm', 'idempotency-key': key },
      body,
    });
  const multipart = (repository: string, body: Buffer, key: string) => {
    const form = new FormData();
    form.append('repository', repository);
    form.append('tag', 'v1');
    form.append('file', new Blob([body]), 'app.wasm');
    return service.fetch('/v1/artifacts', { method: 'POST', headers: { 'idempotency-key': key }, body: form });
  };
  const json = (route: string, body: unknown, key: string) =>
    service.fetch(route, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
  const expectReused = async (response: Response, jobId: string) => {
    expect(response.status).toBe(422);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await response.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', jobId });
  };
  const jobsWithKey = async (key: string) => Number((await database.query<{ n: string }>('select count(*) as n from jobs where idempotency_key = $1', [key]))[0]!.n);

  it.each([
    ['raw', raw],
    ['multipart', multipart],
  ])('a %s upload: the same bytes give the same job, other bytes a 422, and nothing is pushed again', async (_kind, upload) => {
    const repository = newRepository();
    const key = randomUUID();
    const first = await upload(repository, component, key);
    expect(first.status).toBe(202);
    const job = (await first.json()) as JobView;
    await finishedJob(service, job.id);
    const tagsBefore = await registry.tags(path(repository));

    const again = await upload(repository, component, key);
    expect(again.status).toBe(202);
    expect(((await again.json()) as JobView).id).toBe(job.id);

    // Same repository, tag and key; another .wasm.
    await expectReused(await upload(repository, coreModule, key), job.id);
    expect(await registry.blobStatus(path(repository), `sha256:${createHash('sha256').update(coreModule).digest('hex')}`)).toBe(404);
    expect(await registry.tags(path(repository))).toEqual(tagsBefore);
    expect(await jobsWithKey(key)).toBe(1);
  });

  it('a sign request: the same body gives the same job, another body (a callbackUrl added) a 422', async () => {
    const repository = newRepository();
    const upload = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    const published = await finishedJob(service, ((await upload.json()) as JobView).id);
    expect(published.state).toBe('succeeded');
    const key = randomUUID();
    const first = await json('/v1/signatures', { reference: `${repository}:v1` }, key);
    expect(first.status).toBe(202);
    const job = (await first.json()) as JobView;
    const again = await json('/v1/signatures', { reference: `${repository}:v1` }, key);
    expect(again.status).toBe(202);
    expect(((await again.json()) as JobView).id).toBe(job.id);
    await expectReused(await json('/v1/signatures', { reference: published.result!.reference }, key), job.id);
    expect(await jobsWithKey(key)).toBe(1);
    await finishedJob(service, job.id);
  });

  it('an async verification: the same body gives the same job, another policy a 422', async () => {
    const repository = newRepository();
    const upload = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    await finishedJob(service, ((await upload.json()) as JobView).id);
    const key = randomUUID();
    const request = { reference: `${repository}:v1`, async: true, policy };
    const first = await json('/v1/verifications', request, key);
    expect(first.status).toBe(202);
    const job = (await first.json()) as JobView;
    // The same request with its fields in another order is the same request.
    const again = await json(
      '/v1/verifications',
      { policy: { certificateOidcIssuer: policy.certificateOidcIssuer, certificateIdentity: policy.certificateIdentity }, async: true, reference: request.reference },
      key,
    );
    expect(again.status).toBe(202);
    expect(((await again.json()) as JobView).id).toBe(job.id);
    await expectReused(await json('/v1/verifications', { ...request, policy: { ...policy, certificateIdentity: 'https://example.com/someone-else' } }, key), job.id);
    expect(await jobsWithKey(key)).toBe(1);
  });
});
