import { observeOutboundHttpRequests } from '../metrics/outbound-http-requests';
import { parseRetryAfter } from '../registry/retry-after';
import type { SigningEndpoints } from '../sigstore/signing-endpoints';

export type SigstoreService = 'fulcio' | 'rekor' | 'tsa';

/**
 * What Fulcio, Rekor and the TSA last said about when to come back: the `Retry-After` of a 429 or 503
 * answer, seen on the wire (sigstore-js retries by itself and does not pass the header on). When a
 * signing step fails on such a service, its retry waits until then rather than the usual backoff.
 */
export class SigstoreRetryAfter {
  private readonly until = new Map<SigstoreService, number>();
  private readonly stop: () => void;

  constructor(
    endpoints: SigningEndpoints,
    private readonly now: () => number = Date.now,
  ) {
    const services = [
      { name: 'fulcio', baseUrl: endpoints.fulcioUrl },
      { name: 'rekor', baseUrl: endpoints.rekorUrl },
      ...(endpoints.tsaUrl ? [{ name: 'tsa', baseUrl: endpoints.tsaUrl }] : []),
    ];
    this.stop = observeOutboundHttpRequests(services, ({ service, status, retryAfter }) => {
      if (status !== 429 && status !== 503) return;
      const delayMs = parseRetryAfter(retryAfter, this.now());
      if (delayMs !== undefined) this.until.set(service as SigstoreService, this.now() + delayMs);
    });
  }

  /** How long `service` asked to be left alone from now, if it did and that time has not passed. */
  remainingMs(service: SigstoreService): number | undefined {
    const until = this.until.get(service);
    if (until === undefined) return undefined;
    const remaining = until - this.now();
    return remaining > 0 ? remaining : undefined;
  }

  onModuleDestroy(): void {
    this.stop();
  }
}
