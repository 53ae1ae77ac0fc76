import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import IORedis from 'ioredis';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { LazyProducerConnection, endSharedConnection, workerRedisOptions } from '../common/redis-connection';

/**
 * Tells every process that the signatures of a manifest changed, so none answers from a verdict that
 * predates them: signing publishes `repository@digest` on a Redis channel after attaching a signature
 * or an attestation, and verification, in every process, drops its verdicts on that manifest.
 *
 * Listeners in this process are told at once, before Redis; a failed publish is logged, not thrown
 * (the signature is attached; other processes then see it when their short failed-verdict TTL ends).
 * The subscriber is a connection of its own that reconnects by itself (a subscribed connection can do
 * nothing else).
 */
@Injectable()
export class VerdictInvalidations implements OnApplicationShutdown {
  private readonly logger = new Logger('verdict-invalidations');
  private readonly publisher: LazyProducerConnection;
  private subscriber: IORedis | undefined;
  private readonly listeners = new Set<(subject: string) => void>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.publisher = new LazyProducerConnection(config.redis.url, (error) => this.logger.debug({ error: error.message }, 'Redis connection error'));
  }

  get channel(): string {
    return `${this.config.queues.prefix}:verdicts:invalidate`;
  }

  /** The signatures of `repository@digest` (repository as `host[:port]/path`) changed. */
  async publish(repository: string, digest: string): Promise<void> {
    const subject = `${repository}@${digest}`;
    this.notify(subject);
    try {
      await (await this.publisher.get()).publish(this.channel, subject);
    } catch (error) {
      this.logger.warn({ subject, error: (error as Error).message }, 'could not announce new signatures to other processes');
    }
  }

  /** Calls listener with each `repository@digest` whose signatures changed; subscribes on first use. */
  subscribe(listener: (subject: string) => void): void {
    this.listeners.add(listener);
    if (this.subscriber) return;
    const subscriber = new IORedis(workerRedisOptions(this.config.redis.url));
    subscriber.on('error', (error) => this.logger.debug({ error: error.message }, 'Redis subscriber connection error'));
    subscriber.on('message', (channel: string, subject: string) => {
      if (channel === this.channel) this.notify(subject);
    });
    // ioredis subscribes again by itself after a reconnect (autoResubscribe).
    subscriber.subscribe(this.channel).catch((error: unknown) => this.logger.warn({ error: (error as Error).message }, 'could not subscribe to verdict invalidations'));
    this.subscriber = subscriber;
  }

  private notify(subject: string): void {
    for (const listener of this.listeners) listener(subject);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.publisher.end();
    if (this.subscriber) await endSharedConnection(this.subscriber);
  }
}
