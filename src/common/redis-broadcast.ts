import IORedis from 'ioredis';
import { LazyProducerConnection, endSharedConnection, workerRedisOptions } from './redis-connection';

/** What a listener hears: a message, or `undefined` when messages may have been missed (the subscriber reconnected). */
export type BroadcastListener = (message: string | undefined) => void;

/**
 * One Redis pub/sub channel that every process of the service shares (API key revocations, new
 * signatures, job changes). `publish` tells this process's listeners at once, then the others through
 * Redis; a failed publish is logged, not thrown (the change itself has happened). The subscriber is a
 * connection of its own, opened on first `subscribe`; ioredis reconnects and subscribes again by itself.
 * Pub/sub keeps nothing for a subscriber that was away, so listeners hear `undefined` whenever the
 * subscription (re)starts or the connection closes: what they cached may be stale.
 */
export class RedisBroadcast {
  private readonly publisher: LazyProducerConnection;
  private subscriber: IORedis | undefined;
  private subscribed = false;
  private readonly listeners = new Set<BroadcastListener>();

  constructor(
    private readonly redisUrl: string,
    readonly channel: string,
    private readonly logger: { debug(message: object, text: string): void; warn(message: object, text: string): void },
  ) {
    this.publisher = new LazyProducerConnection(redisUrl, (error) => this.logger.debug({ error: error.message, channel }, 'Redis connection error'));
  }

  /** Whether messages published by other processes reach this one now. */
  get listening(): boolean {
    return this.subscribed && this.subscriber?.status === 'ready';
  }

  async publish(message: string): Promise<void> {
    this.notify(message);
    try {
      await (await this.publisher.get()).publish(this.channel, message);
    } catch (error) {
      this.logger.warn({ channel: this.channel, message, error: (error as Error).message }, 'could not announce a change to other processes');
    }
  }

  /** Adds a listener; the first one opens the subscription. Returns a function that removes it. */
  subscribe(listener: BroadcastListener): () => void {
    this.listeners.add(listener);
    if (!this.subscriber) this.openSubscriber();
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    await this.publisher.end();
    if (this.subscriber) await endSharedConnection(this.subscriber);
  }

  private openSubscriber(): void {
    const subscriber = new IORedis(workerRedisOptions(this.redisUrl));
    subscriber.on('error', (error) => this.logger.debug({ error: error.message, channel: this.channel }, 'Redis subscriber connection error'));
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.notify(message);
    });
    subscriber.on('ready', () => this.notify(undefined));
    subscriber.on('close', () => this.notify(undefined));
    subscriber
      .subscribe(this.channel)
      .then(() => {
        this.subscribed = true;
        this.notify(undefined);
      })
      .catch((error: unknown) => this.logger.warn({ error: (error as Error).message, channel: this.channel }, 'could not subscribe'));
    this.subscriber = subscriber;
  }

  private notify(message: string | undefined): void {
    for (const listener of this.listeners) listener(message);
  }
}
