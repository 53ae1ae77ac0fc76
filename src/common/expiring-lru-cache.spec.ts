import { ExpiringLruCache } from './expiring-lru-cache';

describe('ExpiringLruCache', () => {
  let now = 0;
  const clock = () => now;

  it('forgets an entry at its own TTL, and gives nothing older than maxAge', () => {
    now = 0;
    const cache = new ExpiringLruCache<string, string>(10, clock);
    cache.set('short', 'a', 1_000);
    cache.set('long', 'b', 5_000);
    now = 999;
    expect(cache.get('short')).toEqual({ value: 'a', storedAt: 0 });
    expect(cache.get('short', 998)).toBeUndefined();
    now = 1_000;
    expect(cache.get('short')).toBeUndefined();
    expect(cache.size).toBe(1);
    expect(cache.get('long')?.value).toBe('b');
  });

  it('stores nothing with capacity 0 or a TTL of 0, and drops entries by predicate', () => {
    const off = new ExpiringLruCache<string, string>(0, clock);
    off.set('a', 'a', 1_000);
    expect(off.get('a')).toBeUndefined();
    const cache = new ExpiringLruCache<string, number>(10, clock);
    cache.set('zero', 0, 0);
    expect(cache.get('zero')).toBeUndefined();
    for (const n of [1, 2, 3, 4]) cache.set(`n${n}`, n, 1_000);
    expect(cache.deleteWhere((value) => value % 2 === 0)).toBe(2);
    expect([1, 2, 3, 4].map((n) => cache.get(`n${n}`)?.value)).toEqual([1, undefined, 3, undefined]);
    expect(() => new ExpiringLruCache(-1)).toThrow(RangeError);
  });
});
