import { DynamicModule, Module } from '@nestjs/common';
import { AuthApiModule, AuthModule } from './auth/auth.module';
import { ConfigModule } from './config/config.module';
import type { AppConfig } from './config/config.schema';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { PipelineApiModule, PipelineModule, PipelineWorkerModule } from './pipeline/pipeline.module';
import { ProbesApiModule, ProbesWorkerModule } from './probes/probes.module';
import { ArtifactsApiModule, ArtifactsWorkerModule } from './artifacts/artifacts.module';
import { BuildsApiModule, BuildsWorkerModule } from './builds/builds.module';
import { LibraryClientsModule } from './library-clients.module';
import { SignatureRecordsModule } from './signing/signature-records.module';
import { SigningApiModule, SigningWorkerModule } from './signing/signing.module';
import { TransparencyModule } from './transparency/transparency.module';
import { VerificationApiModule, VerificationWorkerModule } from './verification/verification.module';
import { TrustApiModule, TrustModule } from './verification/trust.module';
import { WebhooksApiModule, WebhooksModule, WebhooksWorkerModule } from './webhooks/webhooks.module';

/** Modules of the API role: HTTP controllers that accept and report work. */
const API_MODULES = [
  AuthApiModule,
  PipelineApiModule,
  ProbesApiModule,
  ArtifactsApiModule,
  BuildsApiModule,
  SigningApiModule,
  SignatureRecordsModule,
  TransparencyModule,
  TrustApiModule,
  VerificationApiModule,
  WebhooksApiModule,
];
/** Modules of the worker role: queue workers and the step handlers they run. */
const WORKER_MODULES = [PipelineWorkerModule, ProbesWorkerModule, ArtifactsWorkerModule, BuildsWorkerModule, SigningWorkerModule, VerificationWorkerModule, WebhooksWorkerModule];

/**
 * The worker modules a process runs. A build node (BUILD_WORKER=only) runs builds and nothing else: it
 * delivers no webhooks (it is given no secret encryption keys, and its network is the builds').
 */
export function workerModules(config: Pick<AppConfig, 'builds'>): typeof WORKER_MODULES {
  return config.builds.worker === 'only' ? WORKER_MODULES.filter((module) => module !== WebhooksWorkerModule) : WORKER_MODULES;
}

/** One codebase, three roles: `api`, `worker`, or `all` (both in one process). */
@Module({})
export class AppModule {
  static forRole(config: AppConfig): DynamicModule {
    const withApi = config.role !== 'worker';
    const withWorkers = config.role !== 'api';
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(config),
        LifecycleModule,
        MetricsModule,
        DatabaseModule,
        PipelineModule,
        LibraryClientsModule,
        TrustModule,
        WebhooksModule,
        AuthModule,
        HealthModule,
        ...(withApi ? API_MODULES : []),
        ...(withWorkers ? workerModules(config) : []),
      ],
    };
  }
}
