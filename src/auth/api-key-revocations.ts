import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { type BroadcastListener, RedisBroadcast } from '../common/redis-broadcast';

/**
 * Tells every process that an API key was revoked, so none keeps accepting it from its cache of looked-up
 * keys: the revocation publishes the key's id on a Redis channel, and every process drops that key.
 *
 * Listeners in this process are told at once, before Redis. `listening` says whether this process hears
 * the others: false until the subscription is in place and whenever the connection is down. A process
 * that is not listening must not answer from its cache (it could miss a revocation), and when it hears
 * again it drops everything it cached (listeners hear `undefined`: a revocation may have been published
 * meanwhile); so the cache's TTL only bounds the moment between a connection failing and this process
 * noticing it.
 */
@Injectable()
export class ApiKeyRevocations implements OnApplicationShutdown {
  private readonly broadcast: RedisBroadcast;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.broadcast = new RedisBroadcast(config.redis.url, `${config.queues.prefix}:api-keys:revoked`, new Logger('api-key-revocations'));
  }

  get channel(): string {
    return this.broadcast.channel;
  }

  /** Whether revocations published by other processes reach this one now. */
  get listening(): boolean {
    return this.broadcast.listening;
  }

  /** The key was revoked: listeners here at once, then every other process. A failed publish is logged, not thrown. */
  async publish(keyId: string): Promise<void> {
    await this.broadcast.publish(keyId);
  }

  /** Calls listener with each revoked key's id, and with undefined when revocations may have been missed. */
  subscribe(listener: BroadcastListener): void {
    this.broadcast.subscribe(listener);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.broadcast.close();
  }
}
