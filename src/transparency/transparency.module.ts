import { Module } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { SignatureRecordQueries } from '../database/signature-record-queries';
import { resolveSigningEndpoints } from '../sigstore/signing-endpoints';
import { TrustRootLoader } from '../sigstore/trust-root-loader';
import { RekorClient } from '../sigstore/rekor-client';
import { TlogEntries } from './tlog-entries.service';
import { TlogEntriesController } from './tlog-entries.controller';

const REKOR_URL = Symbol('REKOR_URL');

/** Transparency-log lookups (api role): Rekor entries by index or UUID, verified, with the records as fallback. */
@Module({
  controllers: [TlogEntriesController],
  providers: [
    { provide: REKOR_URL, inject: [APP_CONFIG], useFactory: (config: AppConfig) => resolveSigningEndpoints(config.signing).rekorUrl },
    {
      provide: TlogEntries,
      inject: [RekorClient, REKOR_URL, TrustRootLoader, SignatureRecordQueries],
      useFactory: (rekor: RekorClient, rekorUrl: string, trustRoot: TrustRootLoader, records: SignatureRecordQueries) => new TlogEntries(rekor, rekorUrl, trustRoot, records),
    },
  ],
})
export class TransparencyModule {}
