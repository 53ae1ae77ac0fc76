import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { finishedJob, type JobView } from './support/jobs';
import { eventually, ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';
import { WebhookReceiver } from './support/webhook-receiver';

interface VerificationEvent {
  type: string;
  timestamp: string;
  data: {
    verification?: {
      id: string;
      reference: string;
      digest: string;
      policy: Record<string, unknown>;
      trustRoot: string;
      verified: boolean;
      error: { code: string } | null;
      signatures: { format: string; verified: boolean }[];
      jobId: string | null;
    };
    job?: JobView;
  };
}

/** Every recorded verification sends verification.succeeded or verification.failed; signing jobs name what they made. */
describe('verification records and events', () => {
  const env = testEnvironment();
  const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  const policy = { certificateIdentity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY!, certificateOidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL! };
  const repository = `${env.stackEnv.LOCAL_REGISTRY}/e2e/verification-events-${randomUUID().slice(0, 8)}`;
  let database: TestDatabase;
  let service: ServiceProcess;
  let receiver: WebhookReceiver;
  let secret: string;
  let digest: string;

  const json = (route: string, body: unknown) => service.fetch(route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  /** The events received after `from` (an index into receiver.received), verified with the subscription's secret. */
  const eventsSince = (from: number, count: number, what: string) =>
    eventually(
      async () => {
        const received = receiver.on('/verifications').slice(from);
        return received.length >= count
          ? received.map((r) => ({ id: r.headers['webhook-id']!, body: new Webhook(secret).verify(r.body, r.headers) as VerificationEvent }))
          : undefined;
      },
      30_000,
      what,
    );

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    receiver = await WebhookReceiver.start();
    service = await ServiceProcess.start(
      testServiceEnv(database.url, 'verification-events', {
        WEBHOOK_ALLOWLIST: '127.0.0.1',
        WEBHOOK_RETRY_BASE_MS: '200',
      }),
    );
    const upload = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    const published = await finishedJob(service, ((await upload.json()) as JobView).id);
    expect(published.state).toBe('succeeded');
    digest = published.result!.manifestDigest;
    // Subscribed after the publish job, so only the verifications below are seen.
    const subscription = await json('/v1/webhooks', { url: receiver.url('/verifications'), events: ['verification.succeeded', 'verification.failed'] });
    expect(subscription.status).toBe(201);
    secret = ((await subscription.json()) as { secret: string }).secret;
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await receiver?.stop();
    await database?.drop();
  });

  it('a synchronous verification that passes: recorded, verification.succeeded with the record', async () => {
    const from = receiver.on('/verifications').length;
    const response = await json('/v1/verifications', { reference: `${repository}:v1`, policy });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ verified: true, digest });

    const [event] = await eventsSince(from, 1, 'verification.succeeded');
    expect(event!.body).toMatchObject({
      type: 'verification.succeeded',
      data: { verification: { reference: `${repository}:v1`, digest, policy, trustRoot: 'default', verified: true, error: null, jobId: null } },
    });
    expect(event!.body.data.verification!.signatures.map((s) => [s.format, s.verified]).sort()).toEqual([
      ['cosign-classic', true],
      ['sigstore-bundle', true],
    ]);
    const [row] = await database.query<{ verified: boolean; digest: string; job_id: string | null }>('select verified, digest, job_id from verifications where id = $1', [
      event!.body.data.verification!.id,
    ]);
    expect(row).toEqual({ verified: true, digest, job_id: null });
    const [delivery] = await database.query<{ verification_id: string; state: string }>('select verification_id, state from webhook_deliveries where id = $1', [event!.id]);
    expect(delivery).toMatchObject({ verification_id: event!.body.data.verification!.id });
  });

  it('a synchronous verification that fails: verification.failed, saying why', async () => {
    const from = receiver.on('/verifications').length;
    const wrong = { ...policy, certificateIdentity: 'https://example.com/not-the-signer' };
    const response = await json('/v1/verifications', { reference: `${repository}@${digest}`, policy: wrong });
    expect(await response.json()).toMatchObject({ verified: false });

    const [event] = await eventsSince(from, 1, 'verification.failed');
    expect(event!.body).toMatchObject({
      type: 'verification.failed',
      data: { verification: { reference: `${repository}@${digest}`, digest, policy: wrong, verified: false, error: { code: 'NO_VERIFIED_SIGNATURE' } } },
    });
  });

  it('an async verification: recorded with its job, the job event', async () => {
    const from = receiver.on('/verifications').length;
    const response = await json('/v1/verifications', { reference: `${repository}:v1`, policy, async: true });
    expect(response.status).toBe(202);
    const job = await finishedJob(service, ((await response.json()) as JobView).id);
    expect(job).toMatchObject({ state: 'succeeded', result: { verified: true } });

    const [event] = await eventsSince(from, 1, 'verification.succeeded of the job');
    expect(event!.body).toMatchObject({ type: 'verification.succeeded', data: { job: { id: job.id, result: { verified: true } } } });
    const rows = await database.query<{ verified: boolean; job_id: string }>('select verified, job_id from verifications where job_id = $1', [job.id]);
    expect(rows).toEqual([{ verified: true, job_id: job.id }]);
  });

  it('a sign job names the digest it signed and the signature records it made', async () => {
    const from = receiver.on('/verifications').length;
    const response = await json('/v1/signatures', { reference: `${repository}:v1` });
    expect(response.status).toBe(202);
    const job = await finishedJob(service, ((await response.json()) as JobView).id);
    expect(job.state).toBe('succeeded');
    expect(job.result).toMatchObject({ reference: `${repository}@${digest}`, manifestDigest: digest });
    const signatures = job.result!.signatures as { id: string; format: string; logIndex: number; entryUuid: string }[];
    expect(signatures.map((s) => s.format).sort()).toEqual(['cosign-classic', 'sigstore-bundle']);
    for (const signature of signatures) {
      const record = await service.fetch(`/v1/signatures/${signature.id}`);
      expect(record.status).toBe(200);
      expect(await record.json()).toMatchObject({
        id: signature.id,
        jobId: job.id,
        format: signature.format,
        manifestDigest: digest,
        rekor: { logIndex: signature.logIndex, entryUuid: signature.entryUuid },
      });
    }
    // Its verify step is a recorded verification too.
    const [event] = await eventsSince(from, 1, 'verification.succeeded of the sign job');
    expect(event!.body).toMatchObject({ type: 'verification.succeeded', data: { job: { id: job.id } } });
    expect(await database.query('select verified from verifications where job_id = $1', [job.id])).toEqual([{ verified: true }]);
  });
});
