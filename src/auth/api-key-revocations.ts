import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import IORedis from 'ioredis';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { LazyProducerConnection, endSharedConnection, workerRedisOptions } from '../common/redis-connection';

/**
 * Tells every process that an API key was revoked, so none keeps accepting it from its cache of looked-up
 * keys: the revocation publishes the key's id on a Redis channel, and every process drops that key.
 *
 * Listeners in this process are told at once, before Redis. `listening` says whether this process hears
 * the others: false until the subscription is in place and whenever the connection is down. A process
 * that is not listening must not answer from its cache (it could miss a revocation), and when it hears
 * again it drops everything it cached (a revocation may have been published meanwhile); so the cache's
 * TTL only bounds the moment between a connection failing and this process noticing it.
 */
@Injectable()
export class ApiKeyRevocations implements OnApplicationShutdown {
  private readonly logger = new Logger('api-key-revocations');
  private readonly publisher: LazyProducerConnection;
  private subscriber: IORedis | undefined;
  private readonly listeners = new Set<(keyId: string | undefined) => void>();
  private subscribed = false;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.publisher = new LazyProducerConnection(config.redis.url, (error) => this.logger.debug({ error: error.message }, 'Redis connection error'));
  }

  get channel(): string {
    return `${this.config.queues.prefix}:api-keys:revoked`;
  }

  /** Whether revocations published by other processes reach this one now. */
  get listening(): boolean {
    return this.subscribed && this.subscriber?.status === 'ready';
  }

  /** The key was revoked: listeners here at once, then every other process. A failed publish is logged, not thrown. */
  async publish(keyId: string): Promise<void> {
    this.notify(keyId);
    try {
      await (await this.publisher.get()).publish(this.channel, keyId);
    } catch (error) {
      this.logger.warn({ keyId, error: (error as Error).message }, 'could not announce an API key revocation to other processes');
    }
  }

  /**
   * Calls listener with each revoked key's id, and with undefined when revocations may have been missed
   * (the connection came back): then every cached key is to be dropped. Subscribes on first use.
   */
  subscribe(listener: (keyId: string | undefined) => void): void {
    this.listeners.add(listener);
    if (this.subscriber) return;
    const subscriber = new IORedis(workerRedisOptions(this.config.redis.url));
    subscriber.on('error', (error) => this.logger.debug({ error: error.message }, 'Redis subscriber connection error'));
    subscriber.on('message', (channel: string, keyId: string) => {
      if (channel === this.channel) this.notify(keyId);
    });
    // ioredis subscribes again by itself after a reconnect (autoResubscribe); what was published while
    // it was away is lost, so everything cached before is dropped.
    subscriber.on('ready', () => this.notify(undefined));
    subscriber.on('close', () => this.notify(undefined));
    subscriber
      .subscribe(this.channel)
      .then(() => {
        this.subscribed = true;
        this.notify(undefined);
      })
      .catch((error: unknown) => this.logger.warn({ error: (error as Error).message }, 'could not subscribe to API key revocations'));
    this.subscriber = subscriber;
  }

  private notify(keyId: string | undefined): void {
    for (const listener of this.listeners) listener(keyId);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.publisher.end();
    if (this.subscriber) await endSharedConnection(this.subscriber);
  }
}
