import { MetricsService } from '../../src/metrics/metrics.service';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { WebhookQueue } from '../../src/webhooks/webhook-queue.service';
import { WebhookDeliveryWorker } from '../../src/webhooks/webhook-delivery.worker';
import { SecretBox } from '../../src/common/secret-box';
import { newWebhookSecret, sealWebhookSecret } from '../../src/webhooks/webhook-secret';
import type { DeliveryRow } from '../../src/webhooks/webhook-tables';
import { WebhookTargets } from '../../src/webhooks/webhook-targets.service';
import { WebhooksRepository } from '../../src/webhooks/webhooks.repository';
import { TEST_SECRET_ENCRYPTION_KEYS } from '../support/test-environment';
import { WebhookReceiver } from '../support/webhook-receiver';
import { type Integration, eventually, startIntegration } from './support/integration-env';
import { CallbackUrlPolicy } from '../../src/pipeline/callback-url-policy';

/**
 * The webhook delivery worker for real: deliveries recorded in PostgreSQL, queued in Redis (BullMQ),
 * POSTed to a receiver on loopback (allowlisted), every attempt recorded.
 */
describe('WebhookDeliveryWorker (Redis, PostgreSQL, a local receiver)', () => {
  const CALLBACK_SECRET = newWebhookSecret();
  let it_: Integration;
  let receiver: WebhookReceiver;
  let repository: WebhooksRepository;
  let queue: WebhookQueue;
  let worker: WebhookDeliveryWorker;
  const metrics = new MetricsService();

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    // The shortest retry base the config allows: a retried delivery is re-sent within about 10 ms.
    it_ = await startIntegration({
      WEBHOOK_ALLOWLIST: '127.0.0.1',
      WEBHOOK_RETRY_BASE_MS: '10',
      WEBHOOK_CALLBACK_SECRET: CALLBACK_SECRET,
      SECRET_ENCRYPTION_KEYS: TEST_SECRET_ENCRYPTION_KEYS,
    });
    repository = new WebhooksRepository(it_.database);
    queue = new WebhookQueue(it_.config);
    worker = new WebhookDeliveryWorker(it_.config, repository, queue, new WebhookTargets(it_.config, new CallbackUrlPolicy()), metrics);
    worker.onApplicationBootstrap();
  });

  afterAll(async () => {
    await worker?.onModuleDestroy();
    await queue?.onApplicationShutdown();
    await it_?.stop();
    await receiver?.stop();
  });

  /** A subscription at `path` of the receiver (its secret sealed by `box`) and one delivery to it, recorded and queued. */
  async function deliverTo(path: string, box = it_.config.secretBox!): Promise<{ subscriptionId: string; secret: string; deliveryId: string; payload: string }> {
    const secret = newWebhookSecret();
    const id = randomUUID();
    const subscription = await repository.create({
      id,
      url: receiver.url(path),
      events: ['job.succeeded'],
      description: null,
      sealedSecret: sealWebhookSecret(box, id, secret),
      owner: 'api-key:bootstrap',
      receivesAllCallers: true,
    });
    const deliveryId = `msg_${randomUUID().replaceAll('-', '')}`;
    const payload = JSON.stringify({ type: 'job.succeeded', timestamp: new Date().toISOString(), data: { job: { id: randomUUID(), path } } });
    await repository.insertDelivery({ id: deliveryId, webhookId: subscription.id, callbackUrl: null, jobId: null, event: 'job.succeeded', payload });
    await queue.enqueue(deliveryId);
    return { subscriptionId: subscription.id, secret, deliveryId, payload };
  }

  const settled = (id: string) =>
    eventually(
      () => repository.findDelivery(id),
      (d): d is DeliveryRow => d !== undefined && d.state !== 'pending',
      20_000,
      `delivery ${id} settled`,
    );
  /** wasm_signer_webhook_deliveries_total by outcome, as a scrape shows it. */
  const outcomes = async () => Object.fromEntries((await metrics.webhookDeliveries.get()).values.map((v) => [v.labels.outcome, v.value]));
  /** The outcomes counted since `before`, once they are `expected` (counted just after the record is written). */
  const countedSince = (before: Record<string, number>, expected: Record<string, number>) =>
    eventually(
      async () => {
        const now = await outcomes();
        const changed = Object.keys(now)
          .sort()
          .map((outcome) => [outcome, now[outcome]! - (before[outcome] ?? 0)] as const);
        return Object.fromEntries(changed.filter(([, delta]) => delta !== 0));
      },
      (delta) => JSON.stringify(delta) === JSON.stringify(Object.fromEntries(Object.entries(expected).sort())),
      5_000,
      `webhook outcomes ${JSON.stringify(expected)}`,
    );
  const attempts = async (id: string) => (await repository.attemptsOf([id])).map((a) => [a.status_code, a.error]);

  it('delivers on 2xx: one signed POST, recorded as delivered with its attempt', async () => {
    receiver.answer((request, res) => (request.path === '/ok' ? res.writeHead(200).end('thanks') : res.writeHead(204).end()));
    const { secret, deliveryId, payload } = await deliverTo('/ok');

    const delivery = await settled(deliveryId);
    expect(delivery.state).toBe('delivered');
    expect(delivery.attempts).toBe(1);
    expect(delivery.delivered_at).toBeInstanceOf(Date);
    expect(delivery.next_attempt_at).toBeNull();
    const [attempt] = await repository.attemptsOf([deliveryId]);
    expect([attempt!.status_code, attempt!.response_excerpt, attempt!.error]).toEqual([200, 'thanks', null]);

    const received = receiver.on('/ok');
    expect(received).toHaveLength(1);
    expect(received[0]!.body).toBe(payload);
    expect(received[0]!.headers['webhook-id']).toBe(deliveryId);
    // A receiver holding the subscription's secret verifies it; with another secret it does not.
    expect(new Webhook(secret).verify(received[0]!.body, received[0]!.headers)).toEqual(JSON.parse(payload));
    expect(() => new Webhook(newWebhookSecret()).verify(received[0]!.body, received[0]!.headers)).toThrow();
  });

  it('retries after a 500 and delivers on the 200 that follows, both attempts recorded and signed', async () => {
    receiver.answer((request, res) => {
      if (request.path !== '/flaky') return res.writeHead(204).end();
      res.writeHead(receiver.on('/flaky').length === 1 ? 500 : 200).end();
    });
    const before = await outcomes();
    const { secret, deliveryId } = await deliverTo('/flaky');

    const delivery = await settled(deliveryId);
    expect([delivery.state, delivery.attempts]).toEqual(['delivered', 2]);
    expect(await attempts(deliveryId)).toEqual([
      [500, null],
      [200, null],
    ]);
    const received = receiver.on('/flaky');
    expect(received).toHaveLength(2);
    // The same message both times (receivers deduplicate by webhook-id), each signed afresh.
    expect(received.map((r) => r.headers['webhook-id'])).toEqual([deliveryId, deliveryId]);
    for (const request of received) expect(() => new Webhook(secret).verify(request.body, request.headers)).not.toThrow();
    expect(await countedSince(before, { retrying: 1, delivered: 1 })).toEqual({ retrying: 1, delivered: 1 });
  });

  it('on 410 Gone abandons the delivery, disables the subscription and sends no more', async () => {
    receiver.answer((request, res) => res.writeHead(request.path === '/gone' ? 410 : 204).end());
    const before = await outcomes();
    const { subscriptionId, deliveryId } = await deliverTo('/gone');

    const delivery = await settled(deliveryId);
    expect([delivery.state, delivery.attempts]).toEqual(['abandoned', 1]);
    expect(await attempts(deliveryId)).toEqual([[410, null]]);
    const subscription = await repository.find(subscriptionId);
    expect(subscription!.disabled_at).toBeInstanceOf(Date);
    expect(subscription!.disabled_reason).toContain('410 Gone');
    expect(await repository.subscribersTo('job.succeeded', null)).not.toContainEqual(expect.objectContaining({ id: subscriptionId }));

    // A later delivery to the disabled subscription is abandoned without a request.
    const later = `msg_${randomUUID().replaceAll('-', '')}`;
    await repository.insertDelivery({ id: later, webhookId: subscriptionId, callbackUrl: null, jobId: null, event: 'job.succeeded', payload: '{}' });
    await queue.enqueue(later);
    expect((await settled(later)).state).toBe('abandoned');
    await sleep(200); // well past the 10 ms retry base
    expect(receiver.on('/gone')).toHaveLength(1);
    expect(await attempts(later)).toEqual([]);
    expect(await countedSince(before, { abandoned: 2 })).toEqual({ abandoned: 2 });
  });

  it("signs a job's callbackUrl delivery with WEBHOOK_CALLBACK_SECRET", async () => {
    receiver.answer((_request, res) => res.writeHead(204).end());
    const id = `msg_${randomUUID().replaceAll('-', '')}`;
    const payload = JSON.stringify({ type: 'job.failed', data: { job: { id: randomUUID() } } });
    await repository.insertDelivery({ id, webhookId: null, callbackUrl: receiver.url('/callback'), jobId: null, event: 'job.failed', payload });
    await queue.enqueue(id);

    expect((await settled(id)).state).toBe('delivered');
    const [request] = receiver.on('/callback');
    expect(new Webhook(CALLBACK_SECRET).verify(request!.body, request!.headers)).toEqual(JSON.parse(payload));
  });

  it('fails a delivery whose secret was sealed under a key no longer configured, with its code, and goes on delivering others', async () => {
    receiver.answer((_request, res) => res.writeHead(204).end());
    const removed = new SecretBox([{ id: 'removed-key', key: Buffer.alloc(32, 7) }]);
    const before = await outcomes();
    const { deliveryId } = await deliverTo('/removed-key', removed);

    const delivery = await settled(deliveryId);
    expect([delivery.state, delivery.attempts]).toEqual(['failed', 1]);
    const [[status, error]] = (await attempts(deliveryId)) as [[number | null, string]];
    expect(status).toBeNull();
    expect(error).toMatch(/^SECRET_ENCRYPTION_KEY_UNKNOWN: .*sealed under key removed-key, which SECRET_ENCRYPTION_KEYS does not list \(it lists test-1\)/);
    expect(receiver.on('/removed-key')).toEqual([]);

    // No retry: the queue job failed for good, and the worker delivers the next one.
    await sleep(200);
    expect((await repository.findDelivery(deliveryId))!.attempts).toBe(1);
    const next = await deliverTo('/after-removed-key');
    expect((await settled(next.deliveryId)).state).toBe('delivered');
    expect(await countedSince(before, { failed: 1, delivered: 1 })).toEqual({ failed: 1, delivered: 1 });
  });

  it('fails a delivery whose sealed secret was copied from another subscription', async () => {
    const original = await deliverTo('/original');
    expect((await settled(original.deliveryId)).state).toBe('delivered');
    const box = it_.config.secretBox!;
    const id = randomUUID();
    await repository.create({
      id,
      url: receiver.url('/copied'),
      events: ['job.succeeded'],
      description: null,
      sealedSecret: sealWebhookSecret(box, id, newWebhookSecret()),
      owner: 'api-key:bootstrap',
      receivesAllCallers: true,
    });
    await it_.scratch.query('update webhooks set sealed_secret = (select sealed_secret from webhooks where id = $1) where id = $2', [original.subscriptionId, id]);
    const deliveryId = `msg_${randomUUID().replaceAll('-', '')}`;
    await repository.insertDelivery({ id: deliveryId, webhookId: id, callbackUrl: null, jobId: null, event: 'job.succeeded', payload: '{}' });
    await queue.enqueue(deliveryId);

    expect((await settled(deliveryId)).state).toBe('failed');
    expect((await attempts(deliveryId))[0]![1]).toMatch(/^SECRET_DECRYPTION_FAILED: /);
    expect(receiver.on('/copied')).toEqual([]);
  });
});
