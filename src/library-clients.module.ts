import { Global, Module } from '@nestjs/common';
import { version } from '../package.json';
import { APP_CONFIG } from './config/config.module';
import type { AppConfig } from './config/config.schema';
import { RegistryClient } from './registry/registry-client';
import { RegistryCredentials } from './registry/registry-credentials';
import { RegistryEgressPolicy } from './registry/registry-egress-policy';
import { RekorClient } from './sigstore/rekor-client';
import { resolveSigningEndpoints } from './sigstore/signing-endpoints';

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
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        new RegistryClient({
          credentials: RegistryCredentials.load({ env: process.env, registries: config.registry.credentials }),
          insecureHosts: config.registry.insecureHosts,
          userAgent: `wasm-signer/${version}`,
          requestTimeoutMs: config.registry.timeoutMs,
          egress: new RegistryEgressPolicy({ allowedHosts: config.registry.allowedHosts, privateAllowlist: config.registry.privateAllowlist }),
        }),
    },
    { provide: RekorClient, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new RekorClient(resolveSigningEndpoints(config.signing).rekorUrl) },
  ],
  exports: [RegistryClient, RekorClient],
})
export class LibraryClientsModule {}
