/** Compact plain-text tables and one-line verdicts on stdout. */

export type Cell = string | number;

export function printTable(headers: readonly string[], rows: readonly (readonly Cell[])[], indent = '  '): void {
  const text = rows.map((row) => row.map(String));
  const widths = headers.map((header, i) => Math.max(header.length, ...text.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    indent +
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(headers)}\n`);
  for (const row of text) process.stdout.write(`${line(row)}\n`);
}

export function heading(text: string): void {
  process.stdout.write(`\n${text}\n`);
}

export function note(text: string): void {
  process.stdout.write(`  ${text}\n`);
}

/** One line per target: `target <what>: MET|MISSED (<detail>)`. */
export function verdict(what: string, met: boolean, detail: string): void {
  process.stdout.write(`  target ${what}: ${met ? 'MET' : 'MISSED'} (${detail})\n`);
}

/** Average cores of other load above which a run's figures are flagged as disturbed. */
export const NOISY_OTHER_CORES = 0.15;

/** Says so when other processes used the machine noticeably during the measured passes. */
export function noiseWarning(passes: readonly { label: string; otherCores: number }[]): void {
  const noisy = passes.filter((p) => p.otherCores > NOISY_OTHER_CORES);
  if (noisy.length === 0) return;
  process.stdout.write('\n');
  note(
    `warning: other processes kept ${noisy.map((p) => `${p.otherCores.toFixed(2)} cores busy during the ${p.label}`).join(' and ')}; ` +
      'the figures are disturbed (run on a quiet machine to compare runs)',
  );
}
