import { Global, Module } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';
import { AuthenticationGuard } from './authentication.guard';
import { CallerAuthenticator } from './caller-authenticator';
import { RouteAccessCheck } from './route-access-check';
import { TrustedPublishers } from './trusted-publishers';

/** Who is calling, on every route of every role: the global guard and what it checks credentials against. */
@Global()
@Module({
  providers: [ApiKeysRepository, TrustedPublishers, CallerAuthenticator, { provide: APP_GUARD, useClass: AuthenticationGuard }],
  exports: [ApiKeysRepository, CallerAuthenticator],
})
export class AuthModule {}

/** The API keys API (api role), and the start-up check that every /v1 route declares its scope. */
@Module({ imports: [DiscoveryModule], controllers: [ApiKeysController], providers: [ApiKeysService, RouteAccessCheck] })
export class AuthApiModule {}
