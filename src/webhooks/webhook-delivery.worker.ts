import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { workerRedisOptions } from '../common/redis-connection';
import { MetricsService } from '../metrics/metrics.service';
import { SecretBoxError } from '../common/secret-box';
import { MAX_DELIVERY_ATTEMPTS, retryDelayMs } from './retry-schedule';
import { WEBHOOK_QUEUE, type DeliveryJobData, WebhookQueue } from './webhook-queue.service';
import { openWebhookSecret } from './webhook-secret';
import { sendWebhook } from './webhook-sender';
import { WebhookTargets } from './webhook-targets.service';
import { resolveWebhookTarget, WebhookTargetError } from './webhook-target';
import type { WebhookRow } from './webhook-tables';
import { WebhooksRepository } from './webhooks.repository';

/** A failed attempt to be retried after `delayMs` (the same delay the record shows as next_attempt_at). */
class RetryDelivery extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
  }
}

const SWEEP_BATCH = 500;
/** A pending delivery this far past its next attempt without a live queue job is re-enqueued. */
const SWEEP_GRACE_MS = 5_000;

/**
 * Delivers webhooks: one attempt per queue job run, each recorded. 2xx delivers; 410 Gone disables the
 * subscription; anything else is retried on the schedule until MAX_DELIVERY_ATTEMPTS, and
 * WEBHOOK_DISABLE_AFTER_FAILURES deliveries failed in a row disable the subscription too.
 */
@Injectable()
export class WebhookDeliveryWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('webhooks');
  private worker: Worker<DeliveryJobData> | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: WebhooksRepository,
    private readonly queue: WebhookQueue,
    private readonly targets: WebhookTargets,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    const baseMs = this.config.webhooks.retryBaseMs;
    this.worker = new Worker<DeliveryJobData>(WEBHOOK_QUEUE, (job) => this.process(job), {
      connection: workerRedisOptions(this.config.redis.url),
      prefix: this.config.queues.prefix,
      concurrency: this.config.queues.workerConcurrency,
      lockDuration: this.config.queues.lockDurationMs,
      stalledInterval: this.config.queues.lockDurationMs,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
          error instanceof RetryDelivery ? error.delayMs : retryDelayMs(Math.max(1, attemptsMade), baseMs),
      },
    });
    this.worker.on('error', (error) => this.logger.warn({ err: error }, 'webhook worker error'));
    void this.sweep();
    // Pending deliveries are checked for a missing queue job on start, then as often as the job sweeper runs.
    this.sweepTimer = setInterval(() => void this.sweep(), this.config.queues.enqueueSweepIntervalMs);
    this.sweepTimer.unref();
  }

  /**
   * Re-enqueues pending deliveries, past their next attempt, whose queue job is gone (Redis lost it, the
   * process died before adding it) or finished without settling the record (queue retries used up on
   * errors other than the receiver's answer, such as the database being unreachable).
   */
  async sweep(): Promise<void> {
    try {
      const due = await this.repository.pendingDeliveries(new Date(Date.now() - SWEEP_GRACE_MS), SWEEP_BATCH);
      for (const delivery of due) {
        const state = await this.queue.stateOf(delivery.id);
        if (state === undefined || state === 'unknown') {
          this.logger.log({ deliveryId: delivery.id }, 're-enqueuing a pending delivery without a queue job');
          await this.queue.enqueue(delivery.id);
        } else if (state === 'completed' || state === 'failed') {
          this.logger.log({ deliveryId: delivery.id, state }, 're-enqueuing a pending delivery whose queue job ended');
          await this.queue.requeue(delivery.id);
        }
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'sweeping pending deliveries failed; next sweep retries');
    }
  }

  private async process(job: Job<DeliveryJobData>): Promise<void> {
    const delivery = await this.repository.findDelivery(job.data.deliveryId);
    if (!delivery || delivery.state !== 'pending') return;
    const subscription = delivery.webhook_id ? await this.repository.find(delivery.webhook_id) : undefined;
    if (delivery.webhook_id && (!subscription || subscription.disabled_at)) {
      await this.repository.setDeliveryState(delivery.id, 'abandoned');
      this.metrics.webhookDeliveries.inc({ outcome: 'abandoned' });
      return;
    }
    const url = subscription?.url ?? delivery.callback_url!;
    const secret = subscription ? await this.subscriptionSecret(subscription, delivery.id) : this.config.webhooks.callbackSecret;
    if (!secret) {
      await this.repository.setDeliveryState(delivery.id, 'abandoned');
      this.metrics.webhookDeliveries.inc({ outcome: 'abandoned' });
      throw new UnrecoverableError('WEBHOOK_CALLBACK_SECRET is not set');
    }

    // Counted per queue job, so a redelivery gets a full schedule of its own.
    const attemptNumber = job.attemptsMade + 1;
    const final = attemptNumber >= (job.opts.attempts ?? MAX_DELIVERY_ATTEMPTS);
    const at = new Date();
    let result;
    try {
      const target = await resolveWebhookTarget(url, this.targets.allowlist);
      const headers = {
        'webhook-id': delivery.id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': new Webhook(secret).sign(delivery.id, at, delivery.payload),
      };
      result = await sendWebhook(target, delivery.payload, headers, {
        connectTimeoutMs: this.config.webhooks.connectTimeoutMs,
        responseTimeoutMs: this.config.webhooks.responseTimeoutMs,
      });
    } catch (error) {
      if (!(error instanceof WebhookTargetError)) throw error;
      result = { statusCode: null, latencyMs: 0, responseExcerpt: null, error: `${error.code}: ${error.message}` };
      if (error.code !== 'WEBHOOK_URL_UNRESOLVABLE') {
        await this.repository.recordAttempt(delivery.id, { at, ...result }, { state: 'failed', nextAttemptAt: null });
        this.metrics.webhookDeliveries.inc({ outcome: 'refused' });
        if (subscription) await this.countFailure(subscription, delivery.id, result.error);
        throw new UnrecoverableError(result.error);
      }
    }

    const status = result.statusCode;
    if (status !== null && status >= 200 && status < 300) {
      await this.repository.recordAttempt(delivery.id, { at, ...result }, { state: 'delivered', nextAttemptAt: null });
      this.metrics.webhookDeliveries.inc({ outcome: 'delivered' });
      if (subscription) await this.repository.resetFailures(subscription.id);
      return;
    }
    if (status === 410) {
      await this.repository.recordAttempt(delivery.id, { at, ...result }, { state: 'abandoned', nextAttemptAt: null });
      this.metrics.webhookDeliveries.inc({ outcome: 'abandoned' });
      if (subscription) await this.repository.disable(subscription.id, `${url} answered 410 Gone to delivery ${delivery.id} at ${at.toISOString()}`);
      this.logger.warn({ webhookId: subscription?.id, deliveryId: delivery.id }, 'receiver answered 410 Gone: subscription disabled');
      throw new UnrecoverableError('WEBHOOK_GONE: the receiver answered 410 Gone');
    }
    const reason = status === null ? result.error! : `HTTP ${status}`;
    if (final) {
      await this.repository.recordAttempt(delivery.id, { at, ...result }, { state: 'failed', nextAttemptAt: null });
      this.metrics.webhookDeliveries.inc({ outcome: 'failed' });
      if (subscription) await this.countFailure(subscription, delivery.id, `${reason} after ${attemptNumber} attempts`);
      throw new UnrecoverableError(`WEBHOOK_DELIVERY_FAILED: ${reason} after ${attemptNumber} attempts`);
    }
    const delayMs = retryDelayMs(attemptNumber, this.config.webhooks.retryBaseMs);
    await this.repository.recordAttempt(delivery.id, { at, ...result }, { state: 'pending', nextAttemptAt: new Date(Date.now() + delayMs) });
    this.metrics.webhookDeliveries.inc({ outcome: 'retrying' });
    throw new RetryDelivery(`WEBHOOK_ATTEMPT_FAILED: ${reason}`, delayMs);
  }

  /**
   * Counts a failed delivery against its subscription, which is disabled once WEBHOOK_DISABLE_AFTER_FAILURES
   * deliveries in a row have failed (until POST /v1/webhooks/{id}/enable).
   */
  private async countFailure(subscription: WebhookRow, deliveryId: string, why: string): Promise<void> {
    const limit = this.config.webhooks.disableAfterFailures;
    const reason = `${limit} deliveries in a row failed; the last, ${deliveryId}: ${why}`;
    if (await this.repository.countFailedDelivery(subscription.id, limit, reason)) {
      this.logger.warn({ webhookId: subscription.id, deliveryId, failures: limit }, 'deliveries failed in a row: subscription disabled');
    }
  }

  /**
   * The subscription's secret, opened. One that does not open (its key was removed from
   * SECRET_ENCRYPTION_KEYS, or the row was altered) fails the delivery at once, recorded and logged with
   * its code: retrying cannot help until an operator lists the key again (then redeliver).
   */
  private async subscriptionSecret(subscription: WebhookRow, deliveryId: string): Promise<string> {
    try {
      return openWebhookSecret(this.config.secretBox, subscription);
    } catch (error) {
      if (!(error instanceof SecretBoxError)) throw error;
      const reason = `${error.code}: the secret of subscription ${subscription.id} cannot be opened: ${error.message}`;
      this.logger.error({ code: error.code, webhookId: subscription.id, deliveryId }, reason);
      await this.repository.recordAttempt(
        deliveryId,
        { at: new Date(), statusCode: null, latencyMs: 0, responseExcerpt: null, error: reason },
        { state: 'failed', nextAttemptAt: null },
      );
      this.metrics.webhookDeliveries.inc({ outcome: 'failed' });
      throw new UnrecoverableError(reason);
    }
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.worker?.close();
  }
}
