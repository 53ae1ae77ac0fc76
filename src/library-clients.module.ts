import { Global, Inject, Injectable, Module, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { version } from '../package.json';
import { APP_CONFIG } from './config/config.module';
import type { AppConfig } from './config/config.schema';
import { MetricsService } from './metrics/metrics.service';
import { observeOutboundHttpRequests } from './metrics/outbound-http-requests';
import { RegistryClient } from './registry/registry-client';
import { RegistryCredentials } from './registry/registry-credentials';
import { RegistryEgressPolicy } from './registry/registry-egress-policy';
import { RekorClient } from './sigstore/rekor-client';
import { resolveSigningEndpoints } from './sigstore/signing-endpoints';

/** The label value of a request's status: its code, or `error` when no answer came. */
const statusLabel = (status: number | null): string => (status === null ? 'error' : String(status));

/**
 * Fulcio, Rekor and TSA request metrics for @sigstore/sign, which makes its requests itself (on
 * node:http): observed by base URL while the application runs.
 */
@Injectable()
class SigstoreRequestMetrics implements OnModuleInit, OnModuleDestroy {
  private stop: (() => void) | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    const { fulcioUrl, rekorUrl, tsaUrl } = resolveSigningEndpoints(this.config.signing);
    const services = [{ name: 'fulcio', baseUrl: fulcioUrl }, { name: 'rekor', baseUrl: rekorUrl }, ...(tsaUrl ? [{ name: 'tsa', baseUrl: tsaUrl }] : [])];
    this.stop = observeOutboundHttpRequests(services, ({ service, method, status, seconds }) =>
      this.metrics.sigstoreRequestDuration.observe({ service, method, status: statusLabel(status) }, seconds),
    );
  }

  onModuleDestroy(): void {
    this.stop?.();
  }
}

/**
 * The libraries' clients, configured once from the configuration and shared by every feature: the OCI
 * distribution client (credentials, plain-HTTP hosts, timeouts, the egress policy) and the Rekor client. The libraries
 * themselves know nothing of Nest; this is where they are wired in.
 */
@Global()
@Module({
  providers: [
    {
      provide: RegistryClient,
      inject: [APP_CONFIG, MetricsService],
      useFactory: (config: AppConfig, metrics: MetricsService) =>
        new RegistryClient({
          credentials: RegistryCredentials.load({ env: process.env, registries: config.registry.credentials }),
          insecureHosts: config.registry.insecureHosts,
          userAgent: `wasm-signer/${version}`,
          requestTimeoutMs: config.registry.timeoutMs,
          egress: new RegistryEgressPolicy({ allowedHosts: config.registry.allowedHosts, privateAllowlist: config.registry.privateAllowlist }),
          onRequest: ({ method, status, seconds }) => metrics.registryRequestDuration.observe({ method, status: statusLabel(status) }, seconds),
        }),
    },
    {
      provide: RekorClient,
      inject: [APP_CONFIG, MetricsService],
      useFactory: (config: AppConfig, metrics: MetricsService) =>
        new RekorClient(resolveSigningEndpoints(config.signing).rekorUrl, Math.min(config.signing.timeoutMs, 10_000), ({ method, status, seconds }) =>
          metrics.sigstoreRequestDuration.observe({ service: 'rekor', method, status: statusLabel(status) }, seconds),
        ),
    },
    SigstoreRequestMetrics,
  ],
  exports: [RegistryClient, RekorClient],
})
export class LibraryClientsModule {}
