import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { finishedJob, type JobView } from './support/jobs';
import { eventually, ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';
import { WebhookReceiver } from './support/webhook-receiver';

interface Subscription {
  id: string;
  secret: string;
}
interface Delivery {
  id: string;
  state: string;
  attempts: number;
  attemptLog: { statusCode: number | null; error: string | null }[];
}

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const newKey = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

/**
 * Webhook subscription secrets at rest, with a real PostgreSQL and the service as an operator runs it:
 * never in the database in clear, delivered with the secret returned at creation, through a rotation of
 * the key-encryption key (new key first, old one kept), the removal of the old key, `npm run
 * secrets:reseal`, a start without any key, and rows stored in plain text before secrets were sealed.
 */
describe('webhook secrets at rest', () => {
  const env = testEnvironment();
  const k1 = newKey('k1');
  const k2 = newKey('k2');
  const queuePrefix = `test-${randomUUID().slice(0, 8)}`;
  let database: TestDatabase;
  let receiver: WebhookReceiver;
  let service: ServiceProcess | undefined;
  /** Subscribed under k1, to /old. */
  let old: Subscription;
  /** Subscribed under k2, to /new. */
  let recent: Subscription;

  const serviceEnv = (keys: string) =>
    testServiceEnv(database.url, 'secrets-at-rest', { QUEUE_PREFIX: queuePrefix, WEBHOOK_ALLOWLIST: '127.0.0.1', WEBHOOK_RETRY_BASE_MS: '200', SECRET_ENCRYPTION_KEYS: keys });
  /** (Re)starts the service with SECRET_ENCRYPTION_KEYS set to `keys` ('' for none). */
  async function restart(keys: string): Promise<ServiceProcess> {
    await service?.stop('SIGTERM');
    service = await ServiceProcess.start(serviceEnv(keys));
    return service;
  }

  async function subscribe(path: string): Promise<Subscription> {
    const response = await service!.fetch('/v1/webhooks', json({ url: receiver.url(path), events: ['job.succeeded'] }));
    expect(response.status).toBe(201);
    return (await response.json()) as Subscription;
  }
  const storedRow = async (id: string) => (await database.query<Record<string, unknown>>('select * from webhooks where id = $1', [id]))[0]!;
  async function latestDelivery(subscriptionId: string, settled = true): Promise<Delivery> {
    return eventually(
      async () => {
        const [delivery] = ((await (await service!.fetch(`/v1/webhooks/${subscriptionId}/deliveries`)).json()) as { items: Delivery[] }).items;
        return delivery && (!settled || delivery.state !== 'pending') ? delivery : undefined;
      },
      20_000,
      `a settled delivery to ${subscriptionId}`,
    );
  }
  /** Runs a probe job to its end; every job.succeeded subscriber gets a delivery. */
  async function probe(): Promise<string> {
    const response = await service!.fetch('/v1/probes', json({}));
    expect(response.status).toBe(202);
    const job = await finishedJob(service!, ((await response.json()) as JobView).id);
    expect(job.state).toBe('succeeded');
    return job.id;
  }
  /** The request at `path` that carried the delivery of `jobId`'s event. */
  const received = (path: string, jobId: string) =>
    eventually(async () => receiver.on(path).find((r) => r.body.includes(jobId)), 20_000, `the delivery of job ${jobId} at ${path}`);
  const expectSignedBy = (secret: string, request: { body: string; headers: Record<string, string> }) =>
    expect(new Webhook(secret).verify(request.body, request.headers)).toMatchObject({ type: 'job.succeeded' });

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    receiver = await WebhookReceiver.start();
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await receiver?.stop();
    await database?.drop();
  });

  it('keeps the secret out of every column, and delivers signed with the secret returned at creation', async () => {
    await restart(k1);
    old = await subscribe('/old');
    const bytes = Buffer.from(old.secret.slice('whsec_'.length), 'base64');
    const row = await storedRow(old.id);
    expect(row.sealed_secret).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    const everyColumn = JSON.stringify(row);
    for (const form of [old.secret, bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')]) expect(everyColumn).not.toContain(form);

    const jobId = await probe();
    expectSignedBy(old.secret, await received('/old', jobId));
    expect(await latestDelivery(old.id)).toMatchObject({ state: 'delivered' });
  });

  it('keeps a rotated secret out of the database too', async () => {
    const scratch = await subscribe('/scratch');
    const rotated = (await (await service!.fetch(`/v1/webhooks/${scratch.id.toUpperCase()}/rotate-secret`, { method: 'POST' })).json()) as Subscription;
    expect(rotated.secret).not.toBe(scratch.secret);
    const row = JSON.stringify(await storedRow(scratch.id));
    expect(row).not.toContain(rotated.secret.slice('whsec_'.length));
    expect(row).not.toContain(scratch.secret.slice('whsec_'.length));
    // Sealed for its row although the path named it in upper case: its deliveries are signed with the new secret.
    const jobId = await probe();
    expectSignedBy(rotated.secret, await received('/scratch', jobId));
    expect((await service!.fetch(`/v1/webhooks/${scratch.id}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('after a new key is put first (the old one kept), the old subscription still delivers and new secrets are sealed under the new key', async () => {
    await restart(`${k2},${k1}`);
    recent = await subscribe('/new');
    expect((await storedRow(recent.id)).sealed_secret).toMatch(/^v1\.k2\./);
    expect((await storedRow(old.id)).sealed_secret).toMatch(/^v1\.k1\./);
    expect(service!.logs).toMatch(/webhook secrets sealed under older keys \(k1: 1\) still open; npm run secrets:reseal seals them under k2/);

    const jobId = await probe();
    expectSignedBy(old.secret, await received('/old', jobId));
    expectSignedBy(recent.secret, await received('/new', jobId));
  });

  it('once the old key is removed, deliveries to its subscription fail with SECRET_ENCRYPTION_KEY_UNKNOWN, logged; the service goes on', async () => {
    await restart(k2);
    expect(service!.logs).toMatch(/SECRET_ENCRYPTION_KEY_UNKNOWN.*webhook secrets are sealed under keys SECRET_ENCRYPTION_KEYS does not list \(k1: 1\)/);
    const before = receiver.on('/old').length;

    const jobId = await probe();
    expectSignedBy(recent.secret, await received('/new', jobId));
    const failed = await latestDelivery(old.id);
    expect(failed).toMatchObject({ state: 'failed', attempts: 1 });
    expect(failed.attemptLog).toEqual([
      expect.objectContaining({
        statusCode: null,
        error: expect.stringMatching(/^SECRET_ENCRYPTION_KEY_UNKNOWN: .*sealed under key k1, which SECRET_ENCRYPTION_KEYS does not list \(it lists k2\)/),
      }),
    ]);
    await eventually(async () => (service!.logs.includes(failed.id) ? true : undefined), 5_000, 'the failure in the log');
    expect(service!.logs.split('\n').find((line) => line.includes(failed.id) && line.includes('"code":"SECRET_ENCRYPTION_KEY_UNKNOWN"'))).toBeDefined();
    expect(receiver.on('/old')).toHaveLength(before);
    expect(service!.child.exitCode).toBeNull();
    expect((await service!.fetch('/health/ready')).status).toBe(200);
    // No key material in the log.
    for (const key of [k1, k2]) expect(service!.logs).not.toContain(key.split(':')[1]);
  });

  it('npm run secrets:reseal moves the old rows to the current key, after which the old key can go', async () => {
    await service!.stop('SIGTERM');
    service = undefined;
    const result = await runReseal({ ...serviceEnv(`${k2},${k1}`), PATH: process.env.PATH ?? '' });
    expect(result).toEqual({ status: 0, stdout: 'webhooks.sealed_secret: sealed 0 from plain text and re-sealed 1 under k2; now 2 under k2\n', stderr: '' });
    expect((await storedRow(old.id)).sealed_secret).toMatch(/^v1\.k2\./);

    await restart(k2);
    const failed = await latestDelivery(old.id);
    const redelivered = await service!.fetch(`/v1/webhooks/${old.id}/deliveries/${failed.id}/redeliver`, { method: 'POST' });
    expect(redelivered.status).toBe(202);
    expect(await latestDelivery(old.id)).toMatchObject({ id: failed.id, state: 'delivered', attempts: 2 });
    expectSignedBy(
      old.secret,
      receiver.on('/old').find((r) => r.headers['webhook-id'] === failed.id)!,
    );
  });

  it('npm run secrets:reseal names the rows it cannot open and exits 1; without a key it says what to set', async () => {
    const result = await runReseal({ ...serviceEnv(k1), PATH: process.env.PATH ?? '' });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(`cannot open row ${old.id}: SECRET_ENCRYPTION_KEY_UNKNOWN`);
    expect(result.stderr).toContain('2 secrets cannot be opened with SECRET_ENCRYPTION_KEYS (k1)');
    const unset = await runReseal({ ...serviceEnv(''), PATH: process.env.PATH ?? '' });
    expect(unset).toMatchObject({ status: 78, stderr: expect.stringContaining('SECRET_ENCRYPTION_KEYS: is not set') });
  });

  it('without any key: subscribing and rotating are refused with 422 SECRET_ENCRYPTION_KEY_MISSING, everything else works', async () => {
    await restart('');
    for (const response of [
      await service!.fetch('/v1/webhooks', json({ url: receiver.url('/refused'), events: ['job.succeeded'] })),
      await service!.fetch(`/v1/webhooks/${recent.id}/rotate-secret`, { method: 'POST' }),
    ]) {
      expect(response.status).toBe(422);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await response.json()).toMatchObject({ code: 'SECRET_ENCRYPTION_KEY_MISSING', detail: expect.stringContaining('SECRET_ENCRYPTION_KEYS') });
    }
    expect((await database.query('select id from webhooks')).length).toBe(2);
    const listed = ((await (await service!.fetch('/v1/webhooks')).json()) as { items: { id: string }[] }).items;
    expect(listed.map((s) => s.id).sort()).toEqual([old.id, recent.id].sort());
    await probe();
    expect(await latestDelivery(recent.id)).toMatchObject({
      state: 'failed',
      attemptLog: [expect.objectContaining({ error: expect.stringMatching(/^SECRET_ENCRYPTION_KEY_UNKNOWN: .*SECRET_ENCRYPTION_KEYS is not set/) })],
    });
  });

  it('a secret stored in plain text before sealing keeps working, and the next start with a key seals it', async () => {
    const legacy = { id: randomUUID(), secret: `whsec_${randomBytes(32).toString('base64')}` };
    await database.query(`insert into webhooks (id, url, events, sealed_secret) values ($1, $2, '["job.succeeded"]', $3)`, [legacy.id, receiver.url('/legacy'), legacy.secret]);
    await restart('');
    expect(service!.logs).toContain('1 webhook secrets are stored in plain text: set SECRET_ENCRYPTION_KEYS and they are sealed on the next start');
    let jobId = await probe();
    expectSignedBy(legacy.secret, await received('/legacy', jobId));

    await restart(k2);
    expect(service!.logs).toContain('sealed 1 webhook secrets stored in plain text under key k2');
    const row = JSON.stringify(await storedRow(legacy.id));
    expect(row).toMatch(/"sealed_secret":"v1\.k2\./);
    expect(row).not.toContain(legacy.secret.slice('whsec_'.length));
    jobId = await probe();
    expectSignedBy(legacy.secret, await received('/legacy', jobId));
  });
});

/** `npm run secrets:reseal` as an operator runs it, with the service's environment. */
function runReseal(env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [resolve(REPO_ROOT, 'dist/src/cli/reseal-secrets.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', fail);
    child.once('exit', (status) => done({ status, stdout, stderr }));
  });
}
