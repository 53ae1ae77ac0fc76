import type { ServiceProcess } from './service-process';

/** One sample of a Prometheus text exposition: name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels match (exactly, or a regular expression). */
export const sumOf = (samples: Sample[], name: string, labels: Record<string, string | RegExp> = {}): number =>
  samples
    .filter((s) => s.name === name && Object.entries(labels).every(([key, want]) => (typeof want === 'string' ? s.labels[key] === want : want.test(s.labels[key] ?? ''))))
    .reduce((total, s) => total + s.value, 0);

/** GET /metrics of the service, parsed. */
export async function scrape(service: ServiceProcess): Promise<Sample[]> {
  const response = await service.fetch('/metrics');
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  return parseExposition(await response.text());
}
