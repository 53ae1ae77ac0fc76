import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { AuthRegistry, htpasswdFile } from './support/auth-registry';
import { finishedJob, type JobView } from './support/jobs';
import { eventually, ServiceProcess, tempDir } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, TEST_ADMIN_KEY, testEnvironment, testServiceEnv } from './support/test-environment';
import { WebhookReceiver } from './support/webhook-receiver';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
const REGISTRY_USER = 'leak-test';
const REGISTRY_PASSWORD = `registry-password-${randomUUID()}`;

/**
 * A full flow — an API key made, a component published (with it, and with a CI token) into a registry that
 * demands a password, signed,
 * verified, a webhook subscribed and delivered, a few refusals — with secrets the test knows. Afterwards
 * none of them may appear in what the service wrote or answered: its logs (at debug level), the database
 * (jobs, records, audit log, deliveries: every table), problem responses and webhook payloads.
 */
describe('no secret leaks', () => {
  const env = testEnvironment();
  let database: TestDatabase;
  let registry: AuthRegistry;
  let receiver: WebhookReceiver;
  let service: ServiceProcess;
  const answers: string[] = [];
  const secrets: Record<string, string> = { bootstrapKey: TEST_ADMIN_KEY, registryPassword: REGISTRY_PASSWORD };

  beforeAll(async () => {
    registry = await AuthRegistry.start(['  htpasswd:', '    realm: leak-test', `    path: ${JSON.stringify(htpasswdFile(REGISTRY_USER, REGISTRY_PASSWORD))}`].join('\n'));
    receiver = await WebhookReceiver.start();
    database = await TestDatabase.create(env.postgresServerUrl);
    // CI tokens of the repository leaks/app minted by the local stack's issuer may publish there.
    const rulesFile = join(tempDir('leak-rules'), 'trusted-publishers.json');
    const rule = {
      name: 'leak-ci',
      issuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL,
      claims: { repository: 'leaks/app' },
      scopes: ['artifacts:write'],
      repositories: [`${registry.address}/leaks/**`],
    };
    writeFileSync(rulesFile, JSON.stringify({ rules: [rule] }));
    service = await ServiceProcess.start(
      testServiceEnv(database.url, 'leaks', {
        LOG_LEVEL: 'debug',
        REGISTRY_INSECURE_HOSTS: registry.address,
        REGISTRY_CREDENTIALS: JSON.stringify({ [registry.address]: { username: REGISTRY_USER, password: REGISTRY_PASSWORD } }),
        WEBHOOK_ALLOWLIST: '127.0.0.1',
        TRUSTED_PUBLISHERS_FILE: rulesFile,
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await receiver?.stop();
    await registry?.stop();
    await database?.drop();
  });

  /** A request whose answer is kept for the final check. */
  async function call(path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<{ status: number; body: any }> {
    const response = await service.fetch(path, init);
    const text = await response.text();
    answers.push(text, JSON.stringify([...response.headers]));
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  it('publishes, signs, verifies and notifies with known secrets, then finds none of them anywhere', async () => {
    const repository = `${registry.address}/leaks/app-${randomUUID().slice(0, 8)}`;
    const key = await call('/v1/api-keys', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'leak-test',
        scopes: ['artifacts:write', 'signatures:write', 'verifications:write', 'records:read', 'webhooks:manage'],
        repositories: [`${registry.address}/leaks/**`],
      }),
    });
    expect(key.status).toBe(201);
    secrets.apiKey = key.body.key;
    answers.pop(); // the one answer that shows the key, by design (shown once)
    answers.pop();
    const asKey = { authorization: `Bearer ${secrets.apiKey}` };

    const subscription = await call('/v1/webhooks', {
      method: 'POST',
      headers: { ...asKey, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url('/leaks'), events: ['job.succeeded', 'signature.created'] }),
    });
    expect(subscription.status).toBe(201);
    secrets.webhookSecret = subscription.body.secret;
    answers.splice(-2); // shown once, by design

    const published = await call(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { ...asKey, 'content-type': 'application/wasm' },
      body: component,
    });
    expect(published.status).toBe(202);
    const job = await finishedJob(service, (published.body as JobView).id, 90_000);
    expect(job.state).toBe('succeeded');
    answers.push(JSON.stringify(job));

    // A CI token publishes too.
    const minted = await fetch(`${env.stackEnv.LOCAL_OIDC_ISSUER_URL}/mint`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ aud: 'wasm-signer', sub: 'repo:leaks/app:ref:refs/heads/main', claims: { repository: 'leaks/app', ref: 'refs/heads/main' } }),
    });
    secrets.oidcToken = ((await minted.json()) as { token: string }).token;
    const byToken = await call(`/v1/artifacts?repository=${encodeURIComponent(`${repository}-ci`)}&tag=v1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secrets.oidcToken}`, 'content-type': 'application/wasm' },
      body: component,
    });
    expect(byToken.status).toBe(202);
    expect((await finishedJob(service, byToken.body.id, 90_000)).state).toBe('succeeded');
    // A tampered token is refused (401 TOKEN_SIGNATURE_INVALID) without the token landing anywhere.
    await call('/v1/signatures', { headers: { authorization: `Bearer ${secrets.oidcToken.slice(0, -6)}AAAAAA` } });

    const signed = await call('/v1/signatures', {
      method: 'POST',
      headers: { ...asKey, 'content-type': 'application/json' },
      body: JSON.stringify({ reference: `${repository}:v1` }),
    });
    expect(signed.status).toBe(202);
    expect((await finishedJob(service, signed.body.id, 90_000)).state).toBe('succeeded');

    const verified = await call('/v1/verifications', {
      method: 'POST',
      headers: { ...asKey, 'content-type': 'application/json' },
      body: JSON.stringify({ reference: `${repository}:v1`, policy: { certificateIdentityRegExp: '.+', certificateOidcIssuerRegExp: '.+' } }),
    });
    expect(verified.body).toMatchObject({ verified: true });
    await call(`/v1/signatures?repository=${encodeURIComponent(repository)}`, { headers: asKey });
    await call(`/v1/jobs/${job.id}`, { headers: asKey });

    // Refusals around the secrets: a key one character off the real one, the key without the scope, the
    // registry's credentials sent to the service as Basic authentication.
    await call('/v1/signatures', { headers: { authorization: `Bearer ${secrets.apiKey.slice(0, -4)}AAAA` } });
    await call('/v1/api-keys', { headers: asKey });
    await call('/v1/artifacts?repository=%2Fbad', {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${REGISTRY_USER}:${REGISTRY_PASSWORD}`).toString('base64')}` },
    });

    // The webhook deliveries arrived, signed with the secret (so the secret was used, not stored away).
    const deliveries = await eventually(async () => (receiver.on('/leaks').length >= 2 ? receiver.on('/leaks') : undefined), 60_000, 'two deliveries');
    for (const delivery of deliveries) expect(() => new Webhook(secrets.webhookSecret!).verify(delivery.body, delivery.headers)).not.toThrow();

    // Let the audit log and the last log lines be written.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const tables = await database.query<{ table_name: string }>(`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`);
    const stored: string[] = [];
    for (const { table_name } of tables) {
      const rows = await database.query<Record<string, unknown>>(`select * from "${table_name}"`);
      stored.push(`${table_name}: ${JSON.stringify(rows)}`);
    }
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['jobs', 'signatures', 'verifications', 'webhooks', 'webhook_deliveries', 'api_keys', 'audit_events']));
    expect(stored.join('\n')).toContain(job.id); // the dump holds the flow's records

    const places = {
      logs: service.logs,
      database: stored.join('\n'),
      answers: answers.join('\n'),
      webhookPayloads: deliveries.map((d) => `${JSON.stringify(d.headers)}\n${d.body}`).join('\n'),
    };
    expect(places.logs.length).toBeGreaterThan(1000);
    // Each secret as sent, base64-encoded, without its prefix; a JWT also by its signature alone.
    const forms = (secret: string) => [
      secret,
      Buffer.from(secret).toString('base64'),
      secret.replace(/^whsec_/, ''),
      ...(secret.split('.').length === 3 ? [secret.split('.')[2]!] : []),
    ];
    const found: string[] = [];
    for (const [name, secret] of Object.entries(secrets)) {
      for (const form of forms(secret)) {
        for (const [place, text] of Object.entries(places)) if (text.includes(form)) found.push(`${name} in ${place}`);
      }
    }
    expect(found).toEqual([]);
  }, 240_000);
});
