import { MAX_DELIVERY_ATTEMPTS, MAX_RETRY_DELAY_MS, retryDelayMs } from './retry-schedule';

describe('retryDelayMs', () => {
  const middle = () => 0.5;

  it('doubles from the base delay', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => retryDelayMs(n, 60_000, middle))).toEqual([60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_840_000]);
  });

  it('spans about two hours over all retries with the default base', () => {
    const total = Array.from({ length: MAX_DELIVERY_ATTEMPTS - 1 }, (_, i) => retryDelayMs(i + 1, 60_000, middle)).reduce((a, b) => a + b, 0);
    expect(total).toBe(127 * 60_000);
  });

  it('spreads each delay by ±20%', () => {
    expect(retryDelayMs(3, 1_000, () => 0)).toBe(3_200);
    expect(retryDelayMs(3, 1_000, () => 0.999999)).toBe(4_800);
  });

  it('caps the delay', () => {
    expect(retryDelayMs(30, 60_000, middle)).toBe(MAX_RETRY_DELAY_MS);
  });

  it('refuses a retry number below 1', () => {
    expect(() => retryDelayMs(0, 1_000)).toThrow(RangeError);
    expect(() => retryDelayMs(1.5, 1_000)).toThrow(RangeError);
  });
});
