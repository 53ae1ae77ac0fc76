import { LruCache } from './lru-cache';

/** A value with when it was stored, as `ExpiringLruCache.get` gives it back. */
export interface Stored<V> {
  value: V;
  /** Milliseconds since the epoch, by the cache's clock. */
  storedAt: number;
}

interface Entry<V> extends Stored<V> {
  expiresAt: number;
}

/**
 * An LruCache whose entries also expire: each is stored with its own time to live, and a reader may ask
 * for nothing older than a given age. A capacity of 0 keeps nothing (the cache is off). The clock is
 * injectable so expiry can be tested without waiting.
 */
export class ExpiringLruCache<K, V> {
  private readonly entries: LruCache<K, Entry<V>> | undefined;

  constructor(
    capacity: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`capacity must be a non-negative integer, got ${capacity}`);
    this.entries = capacity === 0 ? undefined : new LruCache(capacity);
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }

  /** The value stored under key, unless it has expired or is older than maxAgeMs (when given). */
  get(key: K, maxAgeMs?: number): Stored<V> | undefined {
    const entry = this.entries?.get(key);
    if (!entry) return undefined;
    const now = this.now();
    if (now >= entry.expiresAt) {
      this.entries!.delete(key);
      return undefined;
    }
    if (maxAgeMs !== undefined && now - entry.storedAt > maxAgeMs) return undefined;
    return { value: entry.value, storedAt: entry.storedAt };
  }

  /** Stores value, checked at storedAt (default now), for ttlMs from then; a ttl of 0 or less stores nothing. */
  set(key: K, value: V, ttlMs: number, storedAt = this.now()): void {
    if (!this.entries || ttlMs <= 0) return;
    this.entries.set(key, { value, storedAt, expiresAt: storedAt + ttlMs });
  }

  /** Drops every entry whose value satisfies the predicate; returns how many. */
  deleteWhere(predicate: (value: V, key: K) => boolean): number {
    let dropped = 0;
    for (const [key, entry] of this.entries?.entriesByAge() ?? []) {
      if (predicate(entry.value, key)) dropped += Number(this.entries!.delete(key));
    }
    return dropped;
  }
}
