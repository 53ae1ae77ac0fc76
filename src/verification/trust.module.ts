import { Global, Module } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { BundleVerifier } from './bundle-verifier';
import { TrustRootLoader } from './trust-root-loader';

/** The trust root signatures are verified with, loaded once, and the verifier that uses it. */
@Global()
@Module({
  providers: [
    {
      provide: TrustRootLoader,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        new TrustRootLoader(config.signing.trustedRootFile ? { file: config.signing.trustedRootFile } : { tufCacheDir: config.dataDir }),
    },
    { provide: BundleVerifier, inject: [TrustRootLoader], useFactory: (trustRoot: TrustRootLoader) => new BundleVerifier(trustRoot) },
  ],
  exports: [TrustRootLoader, BundleVerifier],
})
export class TrustModule {}
