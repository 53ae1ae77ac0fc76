import { Global, Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import { MetricsService } from '../metrics/metrics.service';
import type { AppConfig } from '../config/config.schema';
import { ArtifactVerificationService } from './artifact-verification.service';
import { OwnSignatureVerifier } from '../sigstore/own-signature-verifier';
import { BundleVerificationPool } from '../sigstore/bundle-verification-pool';
import { TrustRootLoader } from '../sigstore/trust-root-loader';
import { TrustRootMonitor, logTrustRootEvent } from './trust-root-monitor';
import { TrustRoots } from './trust-roots';
import { TrustRootsController } from './trust-roots.controller';
import { VerificationRecords } from './verification-records.repository';

/**
 * The named trust roots (files loaded once, on first use; public-good through TUF, kept current in the
 * background, its last good copy standing in while TUF cannot be reached: see TrustRootMonitor), the
 * `default` one signatures of this service are verified with, the bundle verifier that uses it, and the
 * artifact verifier (API and workers); all verify on the process's pool of verification threads.
 */
@Global()
@Module({
  providers: [
    {
      provide: TrustRoots,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => {
        const { mirrorUrl, timeoutMs, retryMaxMs, refreshIntervalMs } = config.verification.tuf;
        return new TrustRoots({
          dataDir: config.dataDir,
          defaultFile: config.signing.trustedRootFile,
          files: config.verification.trustRoots,
          tuf: { mirrorUrl, timeoutMs, refresh: { retryMaxMs, intervalMs: refreshIntervalMs } },
          onEvent: logTrustRootEvent,
        });
      },
    },
    TrustRootMonitor,
    { provide: TrustRootLoader, inject: [TrustRoots], useFactory: (roots: TrustRoots) => roots.defaultRoot },
    {
      provide: BundleVerificationPool,
      inject: [APP_CONFIG, MetricsService],
      useFactory: ({ verification: { threads } }: AppConfig, metrics: MetricsService) => {
        const pool = new BundleVerificationPool({
          threads: threads.count,
          taskTimeoutMs: threads.taskTimeoutMs,
          maxQueue: threads.maxQueue,
          onThreadFailure: (reason) => metrics.verificationThreadFailures.inc({ reason }),
        });
        metrics.verificationPoolState = () => ({ threads: pool.threads, queued: pool.queued });
        return pool;
      },
    },
    {
      provide: OwnSignatureVerifier,
      inject: [TrustRootLoader, BundleVerificationPool],
      useFactory: (trustRoot: TrustRootLoader, pool: BundleVerificationPool) => new OwnSignatureVerifier(trustRoot, pool),
    },
    VerificationRecords,
    ArtifactVerificationService,
  ],
  exports: [TrustRoots, TrustRootLoader, BundleVerificationPool, OwnSignatureVerifier, VerificationRecords, ArtifactVerificationService],
})
export class TrustModule implements OnModuleDestroy {
  constructor(@Inject(BundleVerificationPool) private readonly pool: BundleVerificationPool) {}

  async onModuleDestroy(): Promise<void> {
    await this.pool.close();
  }
}

/** `GET /v1/trust-roots` (api role). */
@Module({ controllers: [TrustRootsController] })
export class TrustApiModule {}
