import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import IORedis from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimitCategory } from '../access/authorize';
import { endSharedConnection, handshakeSettled, producerRedisOptions } from '../common/redis-connection';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { type QuotaState, rateLimitFields } from './rate-limit-headers';
import { rateLimitProblems } from './rate-limit-problems';
import { UploadSlots } from './upload-slots';

/** The budgets are per minute (RATE_LIMIT_<CATEGORY>_PER_MINUTE). */
export const RATE_LIMIT_WINDOW_SECONDS = 60;
/** An upload's slot is leased for this long and renewed a third of it before it ends, while it runs. */
export const UPLOAD_SLOT_LEASE_MS = 30_000;

/** Gives back an upload slot; calling it again does nothing. */
export type ReleaseSlot = () => void;

/**
 * Per-caller budgets shared by every API process through Redis (keys under QUEUE_PREFIX, so
 * deployments sharing a Redis keep apart):
 *
 * - requests per minute, one budget per route category: a fixed window per caller that starts with its
 *   first request, counted atomically by rate-limiter-flexible's Lua script (an INCR whose key expires
 *   with the window, so memory stays bounded);
 * - uploads in progress at once per caller (UploadSlots: leases that end by themselves).
 *
 * When Redis cannot be asked, requests are refused (503 RATE_LIMIT_UNAVAILABLE), not let through:
 * uploads and sign requests could not be queued without Redis anyway, readiness is red meanwhile (so the
 * process is out of rotation), and a limit that lapses whenever Redis stumbles is no limit for a service
 * that spends signing certificates and transparency-log entries on every request.
 */
@Injectable()
export class CallerRateLimits implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('rate-limits');
  private opened: { connection: IORedis; limiters: ReadonlyMap<RateLimitCategory, RateLimiterRedis>; slots: UploadSlots } | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /**
   * Counts one request of `principal` against its `category` budget. Resolves with the RateLimit fields
   * to answer with (none when the category has no limit); throws the 429 when the budget is spent, the
   * 503 when Redis cannot count.
   */
  async count(category: RateLimitCategory, principal: string): Promise<Record<string, string>> {
    const quota = this.config.rateLimits.perMinute[category];
    if (quota === 0) return {};
    const { connection, limiters } = this.open();
    const state = (result: RateLimiterRes): QuotaState => ({
      policy: category,
      quota,
      windowSeconds: RATE_LIMIT_WINDOW_SECONDS,
      remaining: result.remainingPoints,
      resetMs: result.msBeforeNext,
    });
    try {
      await handshakeSettled(connection);
      return rateLimitFields(state(await limiters.get(category)!.consume(callerKey(principal))));
    } catch (error) {
      // rate-limiter-flexible rejects with its result when the budget is spent, with an Error when Redis failed.
      if (error instanceof RateLimiterRes) throw rateLimitProblems.rateLimited(category, state(error));
      throw this.unavailable(error);
    }
  }

  /**
   * Takes one of `principal`'s upload slots, held (and its lease renewed) until the returned function is
   * called. Throws the 429 when the caller has MAX_CONCURRENT_UPLOADS_PER_CALLER uploads in progress, the
   * 503 when Redis cannot count.
   */
  async takeUploadSlot(principal: string): Promise<ReleaseSlot> {
    const cap = this.config.rateLimits.maxConcurrentUploads;
    if (cap === 0) return () => undefined;
    const { connection, slots } = this.open();
    const key = `${this.config.queues.prefix}:upload-slots:${callerKey(principal)}`;
    const lease = randomUUID();
    let taken: boolean;
    try {
      await handshakeSettled(connection);
      taken = await slots.take(key, lease, cap);
    } catch (error) {
      throw this.unavailable(error);
    }
    if (!taken) throw rateLimitProblems.tooManyConcurrentUploads(cap);

    const renewal = setInterval(
      () => {
        slots.renew(key, lease).then(
          (renewed) => {
            if (!renewed) this.logger.warn({ lease }, 'an upload outlived its slot lease (Redis unreachable for a while?); its slot may be taken again');
          },
          (error: Error) => this.logger.debug({ error: error.message }, 'upload slot lease not renewed'),
        );
      },
      (UPLOAD_SLOT_LEASE_MS * 2) / 3,
    );
    renewal.unref();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      clearInterval(renewal);
      // A slot that cannot be given back now ends with its lease.
      slots.release(key, lease).catch((error: Error) => this.logger.debug({ error: error.message }, 'upload slot not released; its lease will end'));
    };
  }

  private unavailable(error: unknown) {
    this.logger.warn({ error: (error as Error)?.message ?? String(error) }, 'rate limits unavailable: Redis did not answer');
    return rateLimitProblems.unavailable();
  }

  /**
   * The connection and limiters, made at start or on first use: an application that is built but never
   * started (the OpenAPI writer), or a worker (which serves no limited route), never connects.
   */
  private open() {
    if (this.opened) return this.opened;
    const connection = new IORedis(producerRedisOptions(this.config.redis.url));
    connection.on('error', (error) => this.logger.debug({ error: error.message }, 'Redis connection error'));
    connection.connect().catch(() => undefined); // reconnects by itself; requests meanwhile get the 503
    const limiters = new Map<RateLimitCategory, RateLimiterRedis>();
    for (const [category, quota] of Object.entries(this.config.rateLimits.perMinute) as [RateLimitCategory, number][]) {
      if (quota === 0) continue;
      limiters.set(
        category,
        new RateLimiterRedis({
          storeClient: connection,
          keyPrefix: `${this.config.queues.prefix}:rate-limit:${category}`,
          points: quota,
          duration: RATE_LIMIT_WINDOW_SECONDS,
          // Fail at once while the connection is down instead of waiting out the command timeout.
          rejectIfRedisNotReady: true,
        }),
      );
    }
    this.opened = { connection, limiters, slots: new UploadSlots(connection, UPLOAD_SLOT_LEASE_MS) };
    return this.opened;
  }

  /** API processes connect at start, so the first request does not wait for the handshake. */
  onApplicationBootstrap(): void {
    if (this.config.role !== 'worker') this.open();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.opened) await endSharedConnection(this.opened.connection);
  }
}

/**
 * The caller's part of a Redis key: a digest of its principal, so keys have a bounded length (an OIDC
 * principal carries an issuer URL and a subject) and Redis does not hold who the callers are.
 */
export function callerKey(principal: string): string {
  return createHash('sha256').update(principal).digest('base64url');
}
