import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedJob, type JobView } from './support/jobs';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';
import { WebhookReceiver } from './support/webhook-receiver';

/**
 * Without WEBHOOK_CALLBACK_SECRET a callback could never be signed, so a callbackUrl is refused at once
 * instead of accepted and never called. (With the secret, webhooks.e2e-spec.ts sees callbacks delivered.)
 */
describe('a callbackUrl without WEBHOOK_CALLBACK_SECRET', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryReader(registryHost);
  const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  let database: TestDatabase;
  let service: ServiceProcess;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    receiver = await WebhookReceiver.start();
    service = await ServiceProcess.start(
      testServiceEnv(database.url, 'callback-secret', {
        WEBHOOK_ALLOWLIST: '127.0.0.1',
      }),
    );
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await receiver?.stop();
    await database?.drop();
  });

  const expectRefused = async (response: Response) => {
    expect(response.status).toBe(422);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await response.json()) as { code: string; detail: string };
    expect(problem.code).toBe('CALLBACK_SECRET_MISSING');
    expect(problem.detail).toContain('WEBHOOK_CALLBACK_SECRET');
    expect(problem.detail).toContain('POST /v1/webhooks');
  };
  const jobCount = async () => Number((await database.query<{ n: string }>('select count(*) as n from jobs'))[0]!.n);
  const newRepository = () => `${registryHost}/e2e/callback-secret-${randomUUID().slice(0, 8)}`;
  const path = (repository: string) => repository.slice(registryHost.length + 1);
  const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('refuses a raw upload with a callbackUrl before anything is pushed', async () => {
    const repository = newRepository();
    const response = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1&callbackUrl=${encodeURIComponent(receiver.url())}`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    await expectRefused(response);
    expect(await registry.tags(path(repository))).toEqual([]);
    expect(await jobCount()).toBe(0);
  });

  it('refuses a multipart upload with a callbackUrl before anything is pushed', async () => {
    const repository = newRepository();
    const form = new FormData();
    form.append('repository', repository);
    form.append('callbackUrl', receiver.url());
    form.append('file', new Blob([component]), 'hello-http.wasm');
    await expectRefused(await service.fetch('/v1/artifacts', { method: 'POST', body: form }));
    expect(await registry.tags(path(repository))).toEqual([]);
    expect(await jobCount()).toBe(0);
  });

  it('refuses a sign request and an async verification with a callbackUrl; nothing is queued', async () => {
    // Something that exists, so that only the callbackUrl stands in the way.
    const repository = newRepository();
    const upload = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    expect(upload.status).toBe(202);
    expect((await finishedJob(service, ((await upload.json()) as JobView).id)).state).toBe('succeeded');
    const before = await jobCount();

    await expectRefused(await service.fetch('/v1/signatures', json({ reference: `${repository}:v1`, callbackUrl: receiver.url() })));
    await expectRefused(
      await service.fetch(
        '/v1/verifications',
        json({
          reference: `${repository}:v1`,
          async: true,
          callbackUrl: receiver.url(),
          policy: { certificateIdentity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY, certificateOidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL },
        }),
      ),
    );
    expect(await jobCount()).toBe(before);
    expect(receiver.received).toEqual([]);
  });
});
