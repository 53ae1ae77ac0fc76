import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { type BroadcastListener, RedisBroadcast } from '../common/redis-broadcast';

/**
 * Tells every process that the signatures of a manifest changed, so none answers from a verdict that
 * predates them: signing publishes `repository@digest` on a Redis channel after attaching a signature
 * or an attestation, and verification, in every process, drops its verdicts on that manifest.
 *
 * Listeners in this process are told at once, before Redis; a failed publish is logged, not thrown
 * (the signature is attached; other processes then see it when their short failed-verdict TTL ends).
 * Listeners hear `undefined` when invalidations may have been missed (the subscriber reconnected).
 */
@Injectable()
export class VerdictInvalidations implements OnApplicationShutdown {
  private readonly broadcast: RedisBroadcast;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.broadcast = new RedisBroadcast(config.redis.url, `${config.queues.prefix}:verdicts:invalidate`, new Logger('verdict-invalidations'));
  }

  get channel(): string {
    return this.broadcast.channel;
  }

  /** The signatures of `repository@digest` (repository as `host[:port]/path`) changed. */
  async publish(repository: string, digest: string): Promise<void> {
    await this.broadcast.publish(`${repository}@${digest}`);
  }

  /** Calls listener with each `repository@digest` whose signatures changed (undefined: any may have); subscribes on first use. */
  subscribe(listener: BroadcastListener): void {
    this.broadcast.subscribe(listener);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.broadcast.close();
  }
}
