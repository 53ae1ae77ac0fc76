import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ReadinessChecks } from '../health/readiness-checks';
import { MetricsService } from '../metrics/metrics.service';
import type { TrustRootEvent } from '../sigstore/trust-root-loader';
import { TrustRoots, tufRootStatus } from './trust-roots';

const logger = new Logger('trust-roots');

/** Logs a TUF root going stale or fresh again (once each), and a last good copy that could not be written. */
export function logTrustRootEvent(name: string, event: TrustRootEvent): void {
  switch (event.kind) {
    case 'stale':
      logger.warn(
        { trustRoot: name, servedFrom: event.origin, fetchedAt: event.fetchedAt?.toISOString() ?? null, err: event.error },
        event.origin === 'tuf'
          ? 'trust root stale: TUF could not be reached; the root fetched before stays in use and TUF is tried again in the background'
          : `trust root stale: TUF could not be reached; verifying with the ${event.origin === 'disk' ? 'last good copy on disk' : 'copy embedded in @sigstore/tuf'} and trying TUF again in the background`,
      );
      return;
    case 'fresh':
      logger.log({ trustRoot: name, staleSince: event.staleSince.toISOString() }, 'trust root fresh again: fetched through TUF');
      return;
    case 'last-good-not-written':
      logger.warn({ trustRoot: name, err: event.error }, 'trust root fetched, but its last good copy could not be written to disk');
  }
}

/**
 * Reports how current the TUF roots are: readiness details (`trust-root`, never down: a stale root still
 * verifies), the metrics wasm_signer_trust_root_stale and wasm_signer_trust_root_age_seconds. Loads at
 * start the roots used before (a last good copy on disk), in the background, and stops their refresh at
 * shutdown.
 */
@Injectable()
export class TrustRootMonitor implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    private readonly trustRoots: TrustRoots,
    readiness: ReadinessChecks,
    metrics: MetricsService,
  ) {
    readiness.register('trust-root', () => Promise.resolve(this.readinessDetails()));
    metrics.trustRootStates = () =>
      this.trustRoots.tufRoots.flatMap(({ name, loader }) => {
        const freshness = loader.freshness;
        if (!loader.loaded || !freshness) return [];
        const status = tufRootStatus(loader);
        return [{ name, stale: freshness.state === 'stale', ageSeconds: status?.ageSeconds ?? null }];
      });
  }

  onApplicationBootstrap(): void {
    // Not awaited: start never waits on TUF; readiness says `not-loaded` until this is done.
    void this.trustRoots.loadUsedRoots();
  }

  onModuleDestroy(): void {
    this.trustRoots.close();
  }

  private readinessDetails(): Record<string, unknown> {
    return Object.fromEntries(
      this.trustRoots.tufRoots.map(({ name, loader }) => {
        const freshness = loader.freshness!;
        return [
          name,
          {
            state: freshness.state,
            ...tufRootStatus(loader),
            lastError: freshness.lastError ? { message: freshness.lastError.message, at: freshness.lastError.at.toISOString() } : null,
          },
        ];
      }),
    );
  }
}
