import { Global, Module } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { ArtifactVerificationService } from './artifact-verification.service';
import { BundleVerifier } from '../sigstore/bundle-verifier';
import { TrustRootLoader } from '../sigstore/trust-root-loader';
import { TrustRoots } from './trust-roots';
import { TrustRootsController } from './trust-roots.controller';
import { VerificationRecords } from './verification-records.repository';

/**
 * The named trust roots (each loaded once, on first use), the `default` one signatures of this service
 * are verified with, the bundle verifier that uses it, and the artifact verifier (API and workers).
 */
@Global()
@Module({
  providers: [
    {
      provide: TrustRoots,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new TrustRoots({ dataDir: config.dataDir, defaultFile: config.signing.trustedRootFile, files: config.verification.trustRoots }),
    },
    { provide: TrustRootLoader, inject: [TrustRoots], useFactory: (roots: TrustRoots) => roots.defaultRoot },
    { provide: BundleVerifier, inject: [TrustRootLoader], useFactory: (trustRoot: TrustRootLoader) => new BundleVerifier(trustRoot) },
    VerificationRecords,
    ArtifactVerificationService,
  ],
  exports: [TrustRoots, TrustRootLoader, BundleVerifier, VerificationRecords, ArtifactVerificationService],
})
export class TrustModule {}

/** `GET /v1/trust-roots` (api role). */
@Module({ controllers: [TrustRootsController] })
export class TrustApiModule {}
