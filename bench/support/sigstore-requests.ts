/**
 * Calls the private stack's Fulcio, Rekor and TSA served, from their request counts (`GET /__requests`,
 * dev/stack/http-service.ts), between two moments: certificates issued, Rekor entries made and read,
 * timestamps.
 */
import { SIGNING_CERT_PATH } from '../../dev/stack/fulcio-server';
import { REQUESTS_PATH } from '../../dev/stack/http-service';
import { ENTRIES_PATH } from '../../dev/stack/rekor-server';
import { printTable } from './report';
import { fixed } from './stats';

export interface SigstoreCalls {
  /** POST /api/v2/signingCert: certificates. */
  fulcio: number;
  /** POST /api/v1/log/entries: entries made (retries and 409s included). */
  rekorEntries: number;
  /** Every GET of the Rekor API: entries looked up, log info. */
  rekorReads: number;
  /** POST to the TSA: timestamps. */
  tsa: number;
}

type Counts = Record<string, number>;

export class SigstoreRequestCounter {
  private before: { fulcio: Counts; rekor: Counts; tsa: Counts } | undefined;

  constructor(private readonly stackEnv: Record<string, string>) {}

  /** Starts counting from now. */
  async start(): Promise<void> {
    this.before = await this.snapshot();
  }

  /** Calls since start(). */
  async count(): Promise<SigstoreCalls> {
    if (!this.before) throw new Error('SigstoreRequestCounter.count() before start()');
    const before = this.before;
    const after = await this.snapshot();
    const delta = (service: keyof typeof after, matches: (key: string) => boolean) =>
      Object.entries(after[service])
        .filter(([key]) => matches(key))
        .reduce((sum, [key, n]) => sum + n - (before[service][key] ?? 0), 0);
    return {
      fulcio: delta('fulcio', (key) => key === `POST ${SIGNING_CERT_PATH}`),
      rekorEntries: delta('rekor', (key) => key === `POST ${ENTRIES_PATH}`),
      rekorReads: delta('rekor', (key) => key.startsWith('GET ')),
      tsa: delta('tsa', (key) => key.startsWith('POST ')),
    };
  }

  private async snapshot(): Promise<{ fulcio: Counts; rekor: Counts; tsa: Counts }> {
    const [fulcio, rekor, tsa] = await Promise.all(
      ['SIGSTORE_FULCIO_URL', 'SIGSTORE_REKOR_URL', 'SIGSTORE_TSA_URL'].map(async (name) => {
        const url = this.stackEnv[name];
        if (!url) return {};
        const response = await fetch(`${new URL(url).origin}${REQUESTS_PATH}`, { signal: AbortSignal.timeout(10_000) });
        if (!response.ok) throw new Error(`${name}: GET ${REQUESTS_PATH} answered HTTP ${response.status} (a stack without request counts?)`);
        return ((await response.json()) as { requests: Counts }).requests;
      }),
    );
    return { fulcio: fulcio!, rekor: rekor!, tsa: tsa! };
  }
}

/** One row per pass: the calls per artifact. */
export function printSigstoreCallsPerArtifact(passes: readonly { label: string; count: number; calls: SigstoreCalls }[]): void {
  printTable(
    ['path', 'Fulcio certificates', 'Rekor entries', 'Rekor reads', 'TSA timestamps'],
    passes.map(({ label, count, calls }) => [
      label,
      fixed(calls.fulcio / count, 2),
      fixed(calls.rekorEntries / count, 2),
      fixed(calls.rekorReads / count, 2),
      fixed(calls.tsa / count, 2),
    ]),
  );
}
