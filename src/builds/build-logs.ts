import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type IORedis from 'ioredis';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { LazyProducerConnection } from '../common/redis-connection';

/** How long a build's live log stays in Redis after the build; the record keeps it for good. */
const LIVE_LOG_TTL_SECONDS = 3600;

/** One entry of a live build log: a piece of output, or the end of the build. */
export type BuildLogEntry = { id: string; text: string } | { id: string; end: { truncated: boolean; bytes: number } };

/**
 * The live log of running builds, in a Redis stream per job: the build worker appends what the build
 * prints (up to BUILD_MAX_LOG_BYTES) and readers on any API replica follow it. The whole log is kept in
 * the build record when the build ends; the stream is only the live view, so a failed append is logged
 * and dropped rather than failing the build.
 */
@Injectable()
export class BuildLogs implements OnApplicationShutdown {
  private readonly logger = new Logger('build-logs');
  private readonly connection: LazyProducerConnection;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.connection = new LazyProducerConnection(config.redis.url, (error) => this.logger.debug({ error: error.message }, 'Redis connection error'));
  }

  private redis(): Promise<IORedis> {
    return this.connection.get();
  }

  private key(jobId: string): string {
    return `${this.config.queues.prefix}:build-log:${jobId}`;
  }

  /** A build (attempt) starts: what an earlier attempt printed is dropped. */
  async begin(jobId: string, attempt: number): Promise<void> {
    await this.quietly(async () => {
      await (await this.redis()).del(this.key(jobId));
      if (attempt > 1) await (await this.redis()).xadd(this.key(jobId), '*', 't', `(attempt ${attempt})\n`);
      await (await this.redis()).expire(this.key(jobId), LIVE_LOG_TTL_SECONDS);
    });
  }

  async append(jobId: string, text: string): Promise<void> {
    await this.quietly(async () => (await this.redis()).xadd(this.key(jobId), '*', 't', text));
  }

  async end(jobId: string, end: { truncated: boolean; bytes: number }): Promise<void> {
    await this.quietly(async () => {
      await (await this.redis()).xadd(this.key(jobId), '*', 'e', JSON.stringify(end));
      await (await this.redis()).expire(this.key(jobId), LIVE_LOG_TTL_SECONDS);
    });
  }

  /** The entries after `afterId` (all from the start without one), at most `count`. */
  async read(jobId: string, afterId: string | undefined, count = 500): Promise<BuildLogEntry[]> {
    const entries = await (await this.redis()).xrange(this.key(jobId), afterId ? `(${afterId}` : '-', '+', 'COUNT', count);
    return entries.map(([id, fields]) => {
      const value = fields[1] ?? '';
      if (fields[0] === 'e') return { id, end: JSON.parse(value) as { truncated: boolean; bytes: number } };
      return { id, text: value };
    });
  }

  private async quietly(write: () => Promise<unknown>): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not update the live build log');
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection.end();
  }
}
