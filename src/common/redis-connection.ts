import { once } from 'node:events';
import { setImmediate, setTimeout } from 'node:timers/promises';
import IORedis, { type RedisOptions } from 'ioredis';

/**
 * ioredis settings for the two kinds of connection BullMQ needs.
 *
 * - Workers block on Redis and must wait out outages: `maxRetriesPerRequest: null` (BullMQ requires
 *   it) and the offline queue on, so they resume by themselves when Redis comes back.
 * - Producers serve HTTP requests and must fail fast when Redis is down, so the caller gets a 503 at
 *   once instead of a hanging request: no offline queue, one retry per command.
 */
export function workerRedisOptions(url: string): RedisOptions {
  return { ...fromUrl(url), maxRetriesPerRequest: null, enableOfflineQueue: true, retryStrategy: reconnectDelay };
}

export function producerRedisOptions(url: string): RedisOptions {
  return {
    ...fromUrl(url),
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
    commandTimeout: 5_000,
    retryStrategy: reconnectDelay,
  };
}

/**
 * Reconnect forever with a backoff capped at 1 s: a Redis outage is waited out, never fatal, and once
 * Redis is back every connection (queues, rate limits, upload slots) is back within a second, so
 * submissions are accepted again and readiness turns green without waiting out a long backoff.
 */
function reconnectDelay(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(attempt, 10), 1_000);
}

function fromUrl(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: Number.isInteger(db) ? db : 0,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
    lazyConnect: true,
  };
}

/**
 * Ends a connection shared by BullMQ queues before they are closed. A queue still connecting (Redis
 * down) then fails while its error listener is attached, instead of after close() has removed it —
 * which would crash the process with an unhandled 'error'.
 */
export async function endSharedConnection(connection: IORedis): Promise<void> {
  if (connection.status === 'end') return;
  // Mid-handshake, ioredis's ready check would fail on the closed stream with an unhandled rejection.
  await handshakeSettled(connection);
  const ended = once(connection, 'end');
  connection.disconnect();
  await Promise.race([ended, setTimeout(1_000)]);
  await setImmediate();
}

/**
 * Resolves once a connection's first handshake is over (ready, failed or ended), at most `timeoutMs`
 * later; at once when it is not in a handshake. Commands on a fail-fast connection sent during the
 * handshake would be refused though Redis is up.
 */
export async function handshakeSettled(connection: IORedis, timeoutMs = 2_000): Promise<void> {
  if (connection.status !== 'connecting' && connection.status !== 'connect') return;
  await Promise.race([
    new Promise((resolve) => {
      connection.once('ready', resolve);
      connection.once('error', resolve);
      connection.once('end', resolve);
    }),
    // Unreferenced: a handshake that settles first must not leave the timer keeping the process alive.
    setTimeout(timeoutMs, undefined, { ref: false }),
  ]);
}

/**
 * A fail-fast (producer) connection, connected: lazy connections connect on first use, and commands sent
 * before the handshake ends would be refused (no offline queue) though Redis is up.
 */
export async function connected(connection: IORedis): Promise<IORedis> {
  if (connection.status === 'wait') await connection.connect().catch(() => undefined);
  await handshakeSettled(connection);
  return connection;
}

/**
 * A fail-fast connection made on first use and connected before each use, for services that send a few
 * commands of their own (build logs, builder reports); errors surface on the commands, never as
 * unhandled events.
 */
export class LazyProducerConnection {
  private connection: IORedis | undefined;

  constructor(
    private readonly url: string,
    private readonly onError: (error: Error) => void,
  ) {}

  async get(): Promise<IORedis> {
    if (!this.connection) {
      this.connection = new IORedis(producerRedisOptions(this.url));
      this.connection.on('error', this.onError);
    }
    return connected(this.connection);
  }

  get opened(): boolean {
    return this.connection !== undefined;
  }

  async end(): Promise<void> {
    if (this.connection) await endSharedConnection(this.connection);
  }
}
