import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { endSharedConnection, producerRedisOptions } from '../common/redis-connection';
import { MAX_DELIVERY_ATTEMPTS } from './retry-schedule';

export const WEBHOOK_QUEUE = 'webhooks';

/** Payload of a delivery job in Redis: only the delivery id (the record holds the rest). */
export interface DeliveryJobData {
  deliveryId: string;
}

/** The producer side of the webhook delivery queue. The BullMQ job id is the delivery id: adding twice is harmless. */
@Injectable()
export class WebhookQueue implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('webhooks');
  private opened: { connection: IORedis; queue: Queue<DeliveryJobData> } | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  onApplicationBootstrap(): void {
    void this.queue;
  }

  /** The queue, connected at start or on first use (as the step queues are). */
  get queue(): Queue<DeliveryJobData> {
    if (this.opened) return this.opened.queue;
    const connection = new IORedis(producerRedisOptions(this.config.redis.url));
    connection.on('error', (error) => this.logger.debug({ error: error.message }, 'Redis connection error'));
    const q = this.config.queues;
    const queue = new Queue<DeliveryJobData>(WEBHOOK_QUEUE, {
      connection,
      prefix: q.prefix,
      defaultJobOptions: {
        attempts: MAX_DELIVERY_ATTEMPTS,
        backoff: { type: 'webhook-schedule' },
        removeOnComplete: { age: q.completedRetentionSeconds, count: q.completedRetentionCount },
        removeOnFail: { age: q.failedRetentionSeconds, count: q.failedRetentionCount },
      },
    });
    queue.on('error', (error) => this.logger.debug({ error: error.message }, 'queue connection error'));
    this.opened = { connection, queue };
    return queue;
  }

  async enqueue(deliveryId: string, delayMs = 0): Promise<void> {
    await this.queue.add('deliver', { deliveryId }, { jobId: deliveryId, delay: delayMs });
  }

  /** Enqueues a delivery again from its first attempt, replacing a finished queue job of the same id. */
  async requeue(deliveryId: string): Promise<void> {
    const existing = await this.queue.getJob(deliveryId);
    if (existing) {
      const state = await existing.getState();
      if (state === 'active') return;
      await existing.remove();
    }
    await this.enqueue(deliveryId);
  }

  /** The BullMQ state of a delivery's queue job, or undefined when there is none. */
  async stateOf(deliveryId: string): Promise<string | undefined> {
    const job = await this.queue.getJob(deliveryId);
    return job ? await job.getState() : undefined;
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.opened) return;
    await endSharedConnection(this.opened.connection);
    await this.opened.queue.close().catch(() => undefined);
  }
}
