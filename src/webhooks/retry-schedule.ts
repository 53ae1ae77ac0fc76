/** Attempts one delivery gets in all: the first and seven retries. */
export const MAX_DELIVERY_ATTEMPTS = 8;

/** Longest wait between two attempts, whatever the base delay. */
export const MAX_RETRY_DELAY_MS = 6 * 60 * 60 * 1000;

/** Relative jitter applied to every delay (±20%), so receivers that come back are not hit all at once. */
export const RETRY_JITTER = 0.2;

/**
 * Delay before retry number `retry` (1 = the retry after the first failed attempt): the base delay
 * doubled for each further retry, capped, then spread by ±20% jitter. With the default base of one
 * minute the seven retries span about two hours.
 */
export function retryDelayMs(retry: number, baseMs: number, random: () => number = Math.random): number {
  if (!Number.isInteger(retry) || retry < 1) throw new RangeError(`retry must be a positive integer, not ${retry}`);
  const nominal = Math.min(baseMs * 2 ** (retry - 1), MAX_RETRY_DELAY_MS);
  const jitter = 1 + RETRY_JITTER * (2 * random() - 1);
  return Math.max(1, Math.round(nominal * jitter));
}
