import { Global, Module } from '@nestjs/common';
import { version } from '../../package.json';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { RegistryClient } from './registry-client';
import { RegistryCredentials } from './registry-credentials';

/** The OCI distribution client, configured once: credentials, plain-HTTP hosts, timeouts. */
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
        }),
    },
  ],
  exports: [RegistryClient],
})
export class RegistryModule {}
