import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { finishedJob, type JobView } from './support/jobs';
import { eventually, ServiceProcess, sleep, tempDir } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, TEST_SECRET_ENCRYPTION_KEYS, testEnvironment, testServiceEnv } from './support/test-environment';
import { TcpProxy } from './support/tcp-proxy';
import { WebhookReceiver } from './support/webhook-receiver';

interface Subscription {
  id: string;
  url: string;
  events: string[];
  secret?: string;
  disabledAt: string | null;
  disabledReason: string | null;
  consecutiveFailures: number;
}
interface Page<T> {
  items: T[];
  nextCursor: string | null;
  next: string | null;
}
interface Delivery {
  id: string;
  event: string;
  jobId: string | null;
  state: string;
  attempts: number;
  attemptLog: { statusCode: number | null; error: string | null }[];
}

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function subscribe(service: ServiceProcess, url: string, events: string[]): Promise<Subscription> {
  const response = await service.fetch('/v1/webhooks', json({ url, events }));
  expect(response.status).toBe(201);
  return (await response.json()) as Subscription;
}

async function deliveries(service: ServiceProcess, webhookId: string): Promise<Delivery[]> {
  const response = await service.fetch(`/v1/webhooks/${webhookId}/deliveries`);
  expect(response.status).toBe(200);
  return ((await response.json()) as Page<Delivery>).items;
}

async function probe(service: ServiceProcess): Promise<string> {
  const response = await service.fetch('/v1/probes', json({}));
  expect(response.status).toBe(202);
  return ((await response.json()) as JobView).id;
}

describe('webhooks', () => {
  const env = testEnvironment();
  const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  let database: TestDatabase;
  let service: ServiceProcess;
  let receiver: WebhookReceiver;
  const callbackSecret = `whsec_${randomBytes(24).toString('base64')}`;
  /** The digest reference the upload test published and signed. */
  let published: string | undefined;

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    receiver = await WebhookReceiver.start();
    service = await ServiceProcess.start(
      testServiceEnv(database.url, 'webhooks', {
        WEBHOOK_ALLOWLIST: '127.0.0.1',
        WEBHOOK_RETRY_BASE_MS: '200',
        WEBHOOK_CALLBACK_SECRET: callbackSecret,
      }),
    );
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await receiver?.stop();
    await database?.drop();
  });

  describe('subscriptions', () => {
    it('returns the secret once, then never again', async () => {
      const created = await subscribe(service, receiver.url('/crud'), ['job.succeeded', 'job.failed']);
      expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.from(created.secret!.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);

      const shown = (await (await service.fetch(`/v1/webhooks/${created.id}`)).json()) as Subscription;
      expect(shown).toMatchObject({ id: created.id, url: receiver.url('/crud'), events: ['job.succeeded', 'job.failed'], disabledAt: null });
      expect(shown).not.toHaveProperty('secret');
      const listed = ((await (await service.fetch('/v1/webhooks?limit=200')).json()) as Page<Subscription>).items;
      expect(listed.find((s) => s.id === created.id)).toBeDefined();
      expect(listed.every((s) => s.secret === undefined)).toBe(true);

      const rotated = (await (await service.fetch(`/v1/webhooks/${created.id}/rotate-secret`, { method: 'POST' })).json()) as Subscription;
      expect(rotated.secret).toMatch(/^whsec_/);
      expect(rotated.secret).not.toBe(created.secret);

      expect((await service.fetch(`/v1/webhooks/${created.id}`, { method: 'DELETE' })).status).toBe(204);
      const gone = await service.fetch(`/v1/webhooks/${created.id}`);
      expect(gone.status).toBe(404);
      expect(await gone.json()).toMatchObject({ code: 'WEBHOOK_NOT_FOUND' });
    });

    it('refuses unknown events', async () => {
      const response = await service.fetch('/v1/webhooks', json({ url: receiver.url(), events: ['job.succeeded', 'job.exploded'] }));
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'VALIDATION_FAILED', detail: expect.stringContaining('events') });
    });

    it.each([
      ['http://10.0.0.1/hook', 422, 'WEBHOOK_URL_FORBIDDEN'],
      ['https://169.254.169.254/latest/meta-data', 422, 'WEBHOOK_URL_FORBIDDEN'],
      ['http://127.0.0.2:9/hook', 422, 'WEBHOOK_URL_FORBIDDEN'],
      ['http://[::1]:9/hook', 422, 'WEBHOOK_URL_FORBIDDEN'],
      ['ftp://example.com/hook', 400, 'WEBHOOK_URL_INVALID'],
      ['not a url', 400, 'WEBHOOK_URL_INVALID'],
    ])('refuses %s (not allowlisted) with %s %s', async (url, status, code) => {
      const response = await service.fetch('/v1/webhooks', json({ url, events: ['job.succeeded'] }));
      expect(response.status).toBe(status);
      expect(await response.json()).toMatchObject({ code });
    });
  });

  it("refuses a job's callbackUrl inside the network before anything is uploaded", async () => {
    const repository = `${env.stackEnv.LOCAL_REGISTRY}/e2e/callback-${randomUUID().slice(0, 8)}`;
    const response = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&callbackUrl=${encodeURIComponent('http://10.0.0.1/hook')}`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ code: 'WEBHOOK_URL_FORBIDDEN', detail: expect.stringContaining('callbackUrl') });
    const tags = await fetch(`http://${env.stackEnv.LOCAL_REGISTRY}/v2/${repository.split('/').slice(1).join('/')}/tags/list`);
    expect(tags.status).toBe(404);
  });

  it('delivers job.succeeded and signature.created for an upload, signed per Standard Webhooks', async () => {
    const subscription = await subscribe(service, receiver.url('/publish'), ['job.succeeded', 'signature.created']);
    const repository = `${env.stackEnv.LOCAL_REGISTRY}/e2e/webhook-${randomUUID().slice(0, 8)}`;
    const response = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    expect(response.status).toBe(202);
    const job = await finishedJob(service, ((await response.json()) as JobView).id);
    expect(job.state).toBe('succeeded');
    published = job.result!.reference as string;

    const received = await eventually(async () => (receiver.on('/publish').length >= 2 ? receiver.on('/publish') : undefined), 20_000, 'two webhooks');
    const verifier = new Webhook(subscription.secret!);
    const payloads = received.map((r) => verifier.verify(r.body, r.headers) as { type: string; timestamp: string; data: { job: JobView } });
    expect(payloads.map((p) => p.type).sort()).toEqual(['job.succeeded', 'signature.created']);
    const succeeded = payloads.find((p) => p.type === 'job.succeeded')!;
    expect(succeeded.data.job).toMatchObject({ id: job.id, state: 'succeeded', result: { manifestDigest: job.result!.manifestDigest } });
    expect(payloads.find((p) => p.type === 'signature.created')!.data.job.result!.signatures.length).toBeGreaterThan(0);
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(received[0]!.body, received[0]!.headers)).toThrow();

    const recorded = await eventually(
      async () => {
        const list = await deliveries(service, subscription.id);
        return list.length === 2 && list.every((d) => d.state === 'delivered') ? list : undefined;
      },
      10_000,
      'deliveries recorded as delivered',
    );
    expect(recorded.map((d) => d.id).sort()).toEqual(received.map((r) => r.headers['webhook-id']).sort());
  });

  it("notifies a verify job's callbackUrl (signed with WEBHOOK_CALLBACK_SECRET) and verification.failed subscribers", async () => {
    expect(published).toBeDefined();
    const subscription = await subscribe(service, receiver.url('/verification-failed'), ['verification.failed']);
    const response = await service.fetch(
      '/v1/verifications',
      json({
        reference: published,
        async: true,
        callbackUrl: receiver.url('/callback'),
        policy: { certificateIdentity: 'https://example.com/not-the-signer', certificateOidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL },
      }),
    );
    expect(response.status).toBe(202);
    const job = await finishedJob(service, ((await response.json()) as JobView).id);
    expect(job).toMatchObject({ state: 'succeeded', result: { verified: false } });

    const [callback] = await eventually(async () => (receiver.on('/callback').length > 0 ? receiver.on('/callback') : undefined), 20_000, 'the callback');
    const callbackPayload = new Webhook(callbackSecret).verify(callback!.body, callback!.headers) as { type: string; data: { job: JobView } };
    expect(callbackPayload).toMatchObject({ type: 'job.succeeded', data: { job: { id: job.id, result: { verified: false } } } });
    expect(() => new Webhook(subscription.secret!).verify(callback!.body, callback!.headers)).toThrow();

    const [failed] = await eventually(
      async () => (receiver.on('/verification-failed').length > 0 ? receiver.on('/verification-failed') : undefined),
      20_000,
      'verification.failed',
    );
    expect(new Webhook(subscription.secret!).verify(failed!.body, failed!.headers)).toMatchObject({ type: 'verification.failed', data: { job: { id: job.id } } });
  });

  it('retries a failing receiver: one delivery, one webhook-id, three recorded attempts', async () => {
    const subscription = await subscribe(service, receiver.url('/flaky'), ['job.succeeded']);
    receiver.answer((request, res) => {
      if (request.path !== '/flaky') return void res.writeHead(204).end();
      const count = receiver.on('/flaky').length;
      res.writeHead(count <= 2 ? 500 : 200).end(count <= 2 ? 'not yet' : 'ok');
    });
    const jobId = await probe(service);
    const [delivery] = await eventually(
      async () => {
        const list = await deliveries(service, subscription.id);
        return list[0]?.state === 'delivered' ? list : undefined;
      },
      20_000,
      'the delivery to succeed',
    );
    receiver.answer((_r, res) => res.writeHead(204).end());

    expect(delivery).toMatchObject({ event: 'job.succeeded', jobId, attempts: 3 });
    expect(delivery!.attemptLog.map((a) => a.statusCode)).toEqual([500, 500, 200]);
    const flaky = receiver.on('/flaky');
    expect(flaky).toHaveLength(3);
    expect(new Set(flaky.map((r) => r.headers['webhook-id']))).toEqual(new Set([delivery!.id]));

    // Redelivery sends the same message again, under the same webhook-id, as a fourth attempt.
    const redelivered = await service.fetch(`/v1/webhooks/${subscription.id}/deliveries/${delivery!.id}/redeliver`, { method: 'POST' });
    expect(redelivered.status).toBe(202);
    const again = await eventually(
      async () => {
        const [d] = await deliveries(service, subscription.id);
        return d?.state === 'delivered' && d.attempts === 4 ? d : undefined;
      },
      20_000,
      'the redelivery',
    );
    expect(again.attemptLog.map((a) => a.statusCode)).toEqual([500, 500, 200, 204]);
    expect(receiver.on('/flaky').map((r) => r.headers['webhook-id'])).toEqual([delivery!.id, delivery!.id, delivery!.id, delivery!.id]);
    expect(receiver.on('/flaky')[3]!.body).toBe(flaky[0]!.body);
    const unknown = await service.fetch(`/v1/webhooks/${subscription.id}/deliveries/msg_unknown/redeliver`, { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'DELIVERY_NOT_FOUND' });
  });

  it('disables a subscription whose receiver answers 410 Gone', async () => {
    const subscription = await subscribe(service, receiver.url('/gone'), ['job.succeeded']);
    receiver.answer((request, res) => res.writeHead(request.path === '/gone' ? 410 : 204).end());
    await probe(service);
    const disabled = await eventually(
      async () => {
        const shown = (await (await service.fetch(`/v1/webhooks/${subscription.id}`)).json()) as Subscription;
        return shown.disabledAt ? shown : undefined;
      },
      20_000,
      'the subscription to be disabled',
    );
    receiver.answer((_r, res) => res.writeHead(204).end());
    expect(disabled.disabledReason).toContain('410');
    const [delivery] = await deliveries(service, subscription.id);
    expect(delivery).toMatchObject({ state: 'abandoned', attempts: 1 });

    // A disabled subscription gets nothing more.
    const before = receiver.on('/gone').length;
    await finishedJob(service, await probe(service));
    await sleep(1_000);
    expect(receiver.on('/gone')).toHaveLength(before);
  });
});

describe('a subscription disabled by failed deliveries, and paged listings', () => {
  const env = testEnvironment();
  let database: TestDatabase;
  let service: ServiceProcess;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    receiver = await WebhookReceiver.start();
    // Short retries, so that a delivery uses up its 8 attempts in about a second; two failed in a row disable.
    service = await ServiceProcess.start(
      testServiceEnv(database.url, 'webhooks-admin', { WEBHOOK_ALLOWLIST: '127.0.0.1', WEBHOOK_RETRY_BASE_MS: '10', WEBHOOK_DISABLE_AFTER_FAILURES: '2' }),
    );
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await receiver?.stop();
    await database?.drop();
  });

  const show = async (id: string) => (await (await service.fetch(`/v1/webhooks/${id}`)).json()) as Subscription;

  it('is re-enabled by its owner only; the next event is delivered, signed with the same secret, and the failed ones are sent again', async () => {
    receiver.answer((request, res) => res.writeHead(request.path === '/down' ? 500 : 204).end(request.path === '/down' ? 'down' : undefined));
    const subscription = await subscribe(service, receiver.url('/down'), ['job.succeeded']);
    const failedJobs = [await probe(service), await probe(service)];
    const disabled = await eventually(async () => ((await show(subscription.id)).disabledAt ? show(subscription.id) : undefined), 60_000, 'the subscription to be disabled');
    expect(disabled).toMatchObject({
      consecutiveFailures: 2,
      disabledReason: expect.stringMatching(/^2 deliveries in a row failed; the last, msg_\S+: HTTP 500 after 8 attempts$/),
    });
    const failed = await deliveries(service, subscription.id);
    expect(failed.map((d) => [d.state, d.attempts]).sort()).toEqual([
      ['failed', 8],
      ['failed', 8],
    ]);
    expect(failed.map((d) => d.jobId).sort()).toEqual([...failedJobs].sort());

    // Disabled: an event is not delivered, nor recorded for it.
    const requestsWhileDown = receiver.on('/down').length;
    expect(requestsWhileDown).toBe(16);
    await finishedJob(service, await probe(service));
    await sleep(1_000);
    expect(receiver.on('/down')).toHaveLength(requestsWhileDown);
    expect(await deliveries(service, subscription.id)).toHaveLength(2);

    // Another caller with the same scope cannot re-enable (or see) it.
    const other = await service.fetch('/v1/api-keys', json({ name: 'another-manager', scopes: ['webhooks:manage'], repositories: ['**'] }));
    expect(other.status).toBe(201);
    const otherKey = ((await other.json()) as { key: string }).key;
    const refused = await service.fetch(`/v1/webhooks/${subscription.id}/enable`, { method: 'POST', headers: { authorization: `Bearer ${otherKey}` } });
    expect(refused.status).toBe(404);
    expect(await refused.json()).toMatchObject({ code: 'WEBHOOK_NOT_FOUND' });
    expect((await show(subscription.id)).disabledAt).toBe(disabled.disabledAt);

    receiver.answer((_r, res) => res.writeHead(204).end());
    const enabled = await service.fetch(`/v1/webhooks/${subscription.id}/enable?redeliverFailed=true`, { method: 'POST' });
    expect(enabled.status).toBe(200);
    const enabledBody = (await enabled.json()) as Subscription & { redelivered: string[] };
    expect(enabledBody).toMatchObject({ id: subscription.id, disabledAt: null, disabledReason: null, consecutiveFailures: 0 });
    expect([...enabledBody.redelivered].sort()).toEqual(failed.map((d) => d.id).sort());

    const jobId = await probe(service);
    const verifier = new Webhook(subscription.secret!);
    const delivered = await eventually(
      async () => {
        const list = await deliveries(service, subscription.id);
        return list.length === 3 && list.every((d) => d.state === 'delivered') ? list : undefined;
      },
      20_000,
      'the next event and the two redeliveries to be delivered',
    );
    const fresh = delivered.find((d) => d.jobId === jobId)!;
    const received = receiver.on('/down').slice(requestsWhileDown);
    expect(received.map((r) => r.headers['webhook-id']).sort()).toEqual(delivered.map((d) => d.id).sort());
    for (const request of received) expect(verifier.verify(request.body, request.headers)).toMatchObject({ type: 'job.succeeded' });
    const freshRequest = received.find((r) => r.headers['webhook-id'] === fresh.id)!;
    expect(verifier.verify(freshRequest.body, freshRequest.headers)).toMatchObject({ data: { job: { id: jobId } } });

    // The audit log names who re-enabled it, and the refused attempt.
    const audit = (await (await service.fetch(`/v1/audit?action=Webhooks_enable&target=${subscription.id}`)).json()) as Page<{
      caller: { principal: string } | null;
      status: number;
      code: string | null;
    }>;
    expect(audit.items.map((e) => [e.caller?.principal, e.status, e.code])).toEqual([
      ['api-key:bootstrap', 200, null],
      [expect.stringMatching(/^api-key:/), 404, 'WEBHOOK_NOT_FOUND'],
    ]);
    expect(audit.items[1]!.caller!.principal).not.toBe('api-key:bootstrap');
  }, 120_000);

  it('can be paused and resumed by its owner', async () => {
    const subscription = await subscribe(service, receiver.url('/paused'), ['job.succeeded']);
    const paused = await service.fetch(`/v1/webhooks/${subscription.id}/disable`, { method: 'POST' });
    expect(paused.status).toBe(200);
    expect(await paused.json()).toMatchObject({ disabledAt: expect.any(String), disabledReason: expect.stringMatching(/^disabled by api-key:bootstrap at /) });
    await finishedJob(service, await probe(service));
    await sleep(500);
    expect(receiver.on('/paused')).toHaveLength(0);
    expect((await service.fetch(`/v1/webhooks/${subscription.id}/enable`, { method: 'POST' })).status).toBe(200);
    await probe(service);
    await eventually(async () => (receiver.on('/paused').length === 1 ? true : undefined), 20_000, 'a delivery after resuming');
  });

  describe('deliveries, paged', () => {
    const EVENTS = ['job.succeeded', 'job.failed', 'signature.created'];
    const STATES = ['delivered', 'failed', 'abandoned'];
    let subscription: Subscription;
    /** The seeded deliveries in the order the listing promises: newest first, then webhook-id (byte order) descending. */
    let expected: { id: string; createdAt: string; event: string; state: string }[];

    beforeAll(async () => {
      subscription = await subscribe(service, receiver.url('/paged'), ['job.succeeded', 'job.failed', 'signature.created']);
      // 130 settled deliveries (settled, so no worker sends them), by groups of three sharing one creation
      // time to the microsecond, so that the order within a group is the webhook-id's.
      const base = Date.parse('2026-11-01T00:00:00Z');
      expected = Array.from({ length: 130 }, (_, i) => ({
        id: `msg_${randomBytes(20).toString('base64url')}`,
        createdAt: `${new Date(base + Math.floor(i / 3) * 1000).toISOString().slice(0, -1)}${String(Math.floor(i / 3) % 1000).padStart(3, '0')}Z`,
        event: EVENTS[i % 3]!,
        state: STATES[i % 2 === 0 ? 0 : 1 + (i % 4 === 1 ? 1 : 0)]!,
      }));
      for (const d of expected) {
        await database.query(`insert into webhook_deliveries (id, webhook_id, event, payload, state, attempts, created_at) values ($1, $2, $3, $4, $5, 1, $6::timestamptz)`, [
          d.id,
          subscription.id,
          d.event,
          JSON.stringify({ type: d.event }),
          d.state,
          d.createdAt,
        ]);
      }
      expected.sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
    });

    async function walk(query: string): Promise<{ pages: Page<Delivery>[]; links: (string | null)[] }> {
      const pages: Page<Delivery>[] = [];
      const links: (string | null)[] = [];
      let url: string | null = `/v1/webhooks/${subscription.id}/deliveries${query}`;
      while (url) {
        const response = await service.fetch(url);
        expect(response.status).toBe(200);
        const page = (await response.json()) as Page<Delivery>;
        links.push(response.headers.get('link'));
        pages.push(page);
        expect(pages.length).toBeLessThan(200);
        url = page.next;
      }
      return { pages, links };
    }

    it('returns each delivery exactly once, newest first, following next (and the Link header)', async () => {
      const { pages, links } = await walk('?limit=50');
      expect(pages.map((p) => p.items.length)).toEqual([50, 50, 30]);
      expect(pages.flatMap((p) => p.items.map((d) => d.id))).toEqual(expected.map((d) => d.id));
      expect(links).toEqual([`<${pages[0]!.next}>; rel="next"`, `<${pages[1]!.next}>; rel="next"`, null]);
      expect(pages[0]!.next).toBe(`/v1/webhooks/${subscription.id}/deliveries?limit=50&cursor=${pages[0]!.nextCursor}`);
      expect(pages[2]).toMatchObject({ nextCursor: null, next: null });
      expect(pages[0]!.items[0]).toMatchObject({ event: expected[0]!.event, state: expected[0]!.state, attempts: 1, attemptLog: [] });
    });

    it('filters by state and event across pages, the cursor used as a query parameter', async () => {
      const want = expected.filter((d) => d.state === 'failed' && d.event === 'job.failed').map((d) => d.id);
      expect(want.length).toBeGreaterThan(7);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const response = await service.fetch(`/v1/webhooks/${subscription.id}/deliveries?state=failed&event=job.failed&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
        expect(response.status).toBe(200);
        const page = (await response.json()) as Page<Delivery>;
        expect(page.items.every((d) => d.state === 'failed' && d.event === 'job.failed')).toBe(true);
        if (page.next) expect(page.next).toContain('state=failed&event=job.failed&limit=7&cursor=');
        seen.push(...page.items.map((d) => d.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual(want);
    });

    it('bounds the limit: 50 by default, 200 at most', async () => {
      const first = (await (await service.fetch(`/v1/webhooks/${subscription.id}/deliveries`)).json()) as Page<Delivery>;
      expect(first.items).toHaveLength(50);
      const all = (await (await service.fetch(`/v1/webhooks/${subscription.id}/deliveries?limit=200`)).json()) as Page<Delivery>;
      expect(all.items).toHaveLength(130);
      expect(all.nextCursor).toBeNull();
      for (const query of ['limit=0', 'limit=201', 'limit=abc', 'limit=1.5', 'state=succeeded', 'event=job.exploded']) {
        const response = await service.fetch(`/v1/webhooks/${subscription.id}/deliveries?${query}`);
        expect({ query, status: response.status, type: response.headers.get('content-type') }).toEqual({
          query,
          status: 400,
          type: expect.stringMatching(/^application\/problem\+json/),
        });
        expect(await response.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
      }
    });

    it('refuses a tampered cursor with 400', async () => {
      const { nextCursor } = (await (await service.fetch(`/v1/webhooks/${subscription.id}/deliveries?limit=10`)).json()) as Page<Delivery>;
      const decoded = JSON.parse(Buffer.from(nextCursor!, 'base64url').toString('utf8')) as { c: string; i: string };
      const tampered = [
        Buffer.from(JSON.stringify({ ...decoded, i: "msg_x' or '1'='1" })).toString('base64url'),
        Buffer.from(JSON.stringify({ ...decoded, i: randomUUID() })).toString('base64url'),
        Buffer.from(JSON.stringify({ ...decoded, c: 'yesterday' })).toString('base64url'),
        `${nextCursor!.slice(0, -2)}!!`,
        'x'.repeat(201),
      ];
      for (const cursor of tampered) {
        const response = await service.fetch(`/v1/webhooks/${subscription.id}/deliveries?cursor=${encodeURIComponent(cursor)}`);
        expect({ cursor, status: response.status }).toEqual({ cursor, status: 400 });
        expect(await response.json()).toMatchObject({ code: 'VALIDATION_FAILED', detail: expect.stringContaining('cursor') });
      }
    });

    it('pages the subscriptions too', async () => {
      const seen: string[] = [];
      let url: string | null = '/v1/webhooks?limit=1';
      while (url) {
        const page = (await (await service.fetch(url)).json()) as Page<Subscription>;
        expect(page.items.length).toBeLessThanOrEqual(1);
        seen.push(...page.items.map((s) => s.id));
        url = page.next;
      }
      expect(seen).toContain(subscription.id);
      expect(new Set(seen).size).toBe(seen.length);
      const all = (await (await service.fetch('/v1/webhooks?limit=200')).json()) as Page<Subscription>;
      expect(seen).toEqual(all.items.map((s) => s.id));
      const bad = await service.fetch('/v1/webhooks?cursor=bm90IGEgY3Vyc29y');
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    });
  });
});

describe('a webhook worker killed during a delivery', () => {
  const env = testEnvironment();
  let database: TestDatabase;
  let receiver: WebhookReceiver;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    receiver = await WebhookReceiver.start();
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    await receiver?.stop();
    await database?.drop();
  });

  it('delivers once a worker comes back, with the same webhook-id', async () => {
    const shared = {
      ...env.stackEnv,
      DATABASE_URL: database.url,
      REDIS_URL: env.redisUrl,
      QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
      WORKER_LOCK_DURATION_MS: '3000',
      WEBHOOK_ALLOWLIST: '127.0.0.1',
      WEBHOOK_RETRY_BASE_MS: '200',
      WEBHOOK_RESPONSE_TIMEOUT_MS: '60000',
      SECRET_ENCRYPTION_KEYS: TEST_SECRET_ENCRYPTION_KEYS,
    };
    const api = await ServiceProcess.start({ ...shared, ROLE: 'api' });
    services.push(api);
    const doomed = await ServiceProcess.start({ ...shared, ROLE: 'worker' });
    services.push(doomed);
    const subscription = await subscribe(api, receiver.url('/crash'), ['job.succeeded']);

    // The first request hangs: its worker is killed while waiting for the answer.
    receiver.answer((_request, res, index) => {
      if (index > 0) res.writeHead(200).end('ok');
    });
    await probe(api);
    await eventually(async () => (receiver.received.length > 0 ? true : undefined), 30_000, 'the first delivery attempt');
    expect(await doomed.stop('SIGKILL')).toBeNull();
    const [before] = await deliveries(api, subscription.id);
    expect(before).toMatchObject({ state: 'pending', attempts: 0 });

    const rescuer = await ServiceProcess.start({ ...shared, ROLE: 'worker' });
    services.push(rescuer);
    const [delivered] = await eventually(
      async () => {
        const list = await deliveries(api, subscription.id);
        return list[0]?.state === 'delivered' ? list : undefined;
      },
      30_000,
      'the delivery after the restart',
    );
    expect(receiver.received.length).toBeGreaterThanOrEqual(2);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([delivered!.id]));
    expect(delivered!.attemptLog.at(-1)!.statusCode).toBe(200);
    new Webhook(subscription.secret!).verify(receiver.received.at(-1)!.body, receiver.received.at(-1)!.headers);

    // A pending delivery that never reached the queue (the process died between the two writes) is
    // found and sent by the next worker that starts.
    const orphan = `msg_orphan${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    const payload = JSON.stringify({ type: 'job.succeeded', timestamp: new Date().toISOString(), data: { job: { id: randomUUID() } } });
    await database.query(
      `insert into webhook_deliveries (id, webhook_id, event, payload, state, next_attempt_at) values ($1, $2, 'job.succeeded', $3, 'pending', now() - interval '1 minute')`,
      [orphan, subscription.id, payload],
    );
    services.push(await ServiceProcess.start({ ...shared, ROLE: 'worker' }));
    const found = await eventually(async () => receiver.received.find((r) => r.headers['webhook-id'] === orphan), 20_000, 'the orphaned delivery');
    expect(new Webhook(subscription.secret!).verify(found.body, found.headers)).toEqual(JSON.parse(payload));
  });
});

describe('a Redis reconnect during a delivery', () => {
  const env = testEnvironment();
  let redisProxy: TcpProxy;
  let service: ServiceProcess;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    const redis = new URL(env.redisUrl);
    redisProxy = await TcpProxy.start(redis.hostname, Number(redis.port || 6379));
    receiver = await WebhookReceiver.start();
    service = await ServiceProcess.start({
      DATA_DIR: tempDir('webhooks-redis'),
      REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
      QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
      WEBHOOK_ALLOWLIST: '127.0.0.1',
      WEBHOOK_RETRY_BASE_MS: '200',
      SECRET_ENCRYPTION_KEYS: TEST_SECRET_ENCRYPTION_KEYS,
    });
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
    await receiver?.stop();
    await redisProxy?.close();
  });

  it('still delivers, once', async () => {
    const subscription = await subscribe(service, receiver.url('/reconnect'), ['job.succeeded']);
    // The receiver holds its first answer while Redis goes away and comes back.
    receiver.answer((_request, res, index) => {
      if (index === 0) {
        redisProxy.cut();
        setTimeout(() => {
          redisProxy.restore();
          res.writeHead(204).end();
        }, 1_500);
      } else {
        res.writeHead(204).end();
      }
    });
    await probe(service);
    const [delivered] = await eventually(
      async () => {
        const list = await deliveries(service, subscription.id).catch(() => undefined);
        return list?.length === 1 && list[0]!.state === 'delivered' ? list : undefined;
      },
      30_000,
      'the delivery to be recorded as delivered',
    );
    expect(delivered!.attemptLog.map((a) => a.statusCode)).toContain(204);
    // Every request the receiver got was the same logical delivery.
    const ids = new Set(receiver.on('/reconnect').map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
  });
});
