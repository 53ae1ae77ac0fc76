/** Small statistics and number formatting for the reports. */

/** The p-th percentile (0–100) by nearest rank; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, v) => sum + v, 0) / values.length;
}

export function fixed(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

/** A ratio against a target that must be reached from below: "met" or how far short, in percent. */
export function shortfall(value: number, target: number): string {
  if (value >= target) return `${fixed(value, 2)} ≥ ${target}`;
  return `${fixed(value, 2)}, ${fixed((1 - value / target) * 100, 0)}% short of ${target}`;
}

export const MiB = 1024 * 1024;
