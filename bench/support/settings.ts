/**
 * Benchmark settings from environment variables (`BENCH_*`), validated: a bad value stops the run
 * with a message naming the variable.
 */

export class BenchSettingError extends Error {
  override readonly name = 'BenchSettingError';
}

export function integerSetting(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BenchSettingError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

export function booleanSetting(name: string, fallback: boolean): boolean {
  const raw = process.env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new BenchSettingError(`${name} must be 1 or 0, got "${process.env[name]}"`);
}

export function choiceSetting<T extends string>(name: string, choices: readonly T[], fallback: T): T {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new BenchSettingError(`${name} must be one of ${choices.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

/**
 * Extra environment for the service under test: every `BENCH_SERVICE_<NAME>=value` becomes
 * `<NAME>=value` (e.g. BENCH_SERVICE_DATABASE_POOL_SIZE=20).
 */
export function serviceOverrides(): Record<string, string> {
  const prefix = 'BENCH_SERVICE_';
  return Object.fromEntries(
    Object.entries(process.env)
      .filter((entry): entry is [string, string] => entry[0].startsWith(prefix) && entry[0].length > prefix.length && entry[1] !== undefined)
      .map(([name, value]) => [name.slice(prefix.length), value]),
  );
}
