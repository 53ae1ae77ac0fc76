import type IORedis from 'ioredis';

/**
 * How many uploads one caller has in progress, across every API process sharing Redis: a sorted set per
 * caller of lease ids scored by the time each lease ends. Taking a slot drops the ended leases, counts
 * the rest and adds one when under the cap, in one script, so two processes never both take the last
 * slot. A process renews its leases while their uploads run and removes them when they end; the leases of
 * a process that died end by themselves within `leaseMs`, and the set expires when none is renewed.
 *
 * A script of our own: rate-limiter-flexible (which counts the per-minute budgets) counts events in a
 * window and has no semaphore with leases. Scores are the Redis server's clock (`TIME`), so the clocks
 * of the API processes do not matter.
 */
const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS[1] the caller's set; ARGV lease id, lease ms, cap. 1 when taken, 0 when the cap is reached. */
const TAKE = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** KEYS[1] the caller's set; ARGV lease id, lease ms. 1 when renewed, 0 when the lease had already ended. */
const RENEW = `${NOW_MS}
local ends = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not ends or tonumber(ends) <= now then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

interface SlotCommands {
  takeUploadSlot(key: string, id: string, leaseMs: number, cap: number): Promise<number>;
  renewUploadSlot(key: string, id: string, leaseMs: number): Promise<number>;
}

export class UploadSlots {
  private readonly redis: IORedis & SlotCommands;

  constructor(
    redis: IORedis,
    /** How long a lease lasts without renewal: the most a dead process's slots stay taken. */
    readonly leaseMs: number,
  ) {
    redis.defineCommand('takeUploadSlot', { numberOfKeys: 1, lua: TAKE });
    redis.defineCommand('renewUploadSlot', { numberOfKeys: 1, lua: RENEW });
    this.redis = redis as IORedis & SlotCommands;
  }

  /** Takes a slot under lease `id` when the caller has fewer than `cap`; false when it has them all. */
  async take(key: string, id: string, cap: number): Promise<boolean> {
    return (await this.redis.takeUploadSlot(key, id, this.leaseMs, cap)) === 1;
  }

  /** Extends a lease by `leaseMs` from now; false when it had ended (its slot may be someone else's). */
  async renew(key: string, id: string): Promise<boolean> {
    return (await this.redis.renewUploadSlot(key, id, this.leaseMs)) === 1;
  }

  async release(key: string, id: string): Promise<void> {
    await this.redis.zrem(key, id);
  }

  /** Leases not yet ended (for tests and diagnostics). */
  async held(key: string): Promise<number> {
    const [seconds, micros] = await this.redis.time();
    return this.redis.zcount(key, `(${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)}`, '+inf');
  }
}
