import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { RedisBroadcast } from '../common/redis-broadcast';

/**
 * Tells every process that a job's record changed (a step started, succeeded or failed), so that job
 * event streams read it at once instead of polling the database: workers announce the job id on a Redis
 * channel after each write, and a stream waits for its job's id, or for `undefined` (announcements may
 * have been missed), or for its fallback interval, whichever comes first.
 */
@Injectable()
export class JobChanges implements OnApplicationShutdown {
  private readonly broadcast: RedisBroadcast;
  private readonly waiters = new Map<string, Set<() => void>>();
  private unsubscribe: (() => void) | undefined;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.broadcast = new RedisBroadcast(config.redis.url, `${config.queues.prefix}:jobs:changed`, new Logger('job-changes'));
  }

  /** The job's record changed (after the write). A failed publish is logged: streams then see it at their fallback poll. */
  async announce(jobId: string): Promise<void> {
    await this.broadcast.publish(jobId);
  }

  /**
   * A wake-up for one job: `changed` resolves when the job is announced (or announcements may have been
   * missed) after this call, or after fallbackMs. Take it before reading the record, so that a change
   * made between the read and the wait is not missed; `cancel` when done with it.
   */
  watch(jobId: string, fallbackMs: number): { changed: Promise<void>; cancel: () => void } {
    this.unsubscribe ??= this.broadcast.subscribe((message) => this.wake(message));
    let wake!: () => void;
    const changed = new Promise<void>((resolve) => (wake = resolve));
    const timer = setTimeout(wake, fallbackMs);
    const waiters = this.waiters.get(jobId) ?? new Set();
    waiters.add(wake);
    this.waiters.set(jobId, waiters);
    const cancel = () => {
      clearTimeout(timer);
      waiters.delete(wake);
      if (waiters.size === 0 && this.waiters.get(jobId) === waiters) this.waiters.delete(jobId);
    };
    return { changed: changed.finally(cancel), cancel };
  }

  private wake(jobId: string | undefined): void {
    const woken = jobId === undefined ? [...this.waiters.values()] : [this.waiters.get(jobId)].filter((set) => set !== undefined);
    for (const set of woken) for (const wake of [...set]) wake();
  }

  async onApplicationShutdown(): Promise<void> {
    this.unsubscribe?.();
    await this.broadcast.close();
  }
}
