import { Global, Module } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';
import { AuthenticationGuard } from './authentication.guard';
import { CallerAuthenticator } from './caller-authenticator';
import { CallerRateLimits } from './caller-rate-limits';
import { RateLimitGuard } from './rate-limit.guard';
import { RouteAccessCheck } from './route-access-check';
import { TrustedPublishers } from './trusted-publishers';

/**
 * Who is calling, on every route of every role: the global guards and what they check credentials and
 * budgets against. Nest runs global guards in the order they are provided: authentication first, then the
 * rate limits, which count per authenticated caller.
 */
@Global()
@Module({
  providers: [
    ApiKeysRepository,
    TrustedPublishers,
    CallerAuthenticator,
    CallerRateLimits,
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
  exports: [ApiKeysRepository, CallerAuthenticator],
})
export class AuthModule {}

/** The API keys API (api role), and the start-up check that every /v1 route declares its scope. */
@Module({ imports: [DiscoveryModule], controllers: [ApiKeysController], providers: [ApiKeysService, RouteAccessCheck] })
export class AuthApiModule {}
