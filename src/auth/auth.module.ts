import { Global, Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { ApiKeyRevocations } from './api-key-revocations';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';
import { AuditLogController } from './audit-log.controller';
import { AuditLogInterceptor } from './audit-log.interceptor';
import { AuditLogRecorder } from './audit-log.recorder';
import { AuditLogRepository } from './audit-log.repository';
import { AuthenticationGuard } from './authentication.guard';
import { CallerAuthenticator } from './caller-authenticator';
import { CallerRateLimits } from './caller-rate-limits';
import { RateLimitGuard } from './rate-limit.guard';
import { RouteAccessCheck } from './route-access-check';
import { RouteActions } from './route-actions';
import { TrustedPublishers } from './trusted-publishers';

/**
 * Who is calling, on every route of every role: the global guards, the table of what each route declares
 * (checked at start: every /v1 route names its scope), and what they check credentials and
 * budgets against. Nest runs global guards in the order they are provided: authentication first, then the
 * rate limits, which count per authenticated caller. Also the audit log's recorder (its interceptor writes
 * the entry of a mutating request before it runs; the application's onSend hook calls
 * `AuditLogRecorder.recordResponse` for the outcome).
 */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [
    RouteAccessCheck,
    ApiKeysRepository,
    ApiKeyRevocations,
    TrustedPublishers,
    CallerAuthenticator,
    CallerRateLimits,
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
    AuditLogRepository,
    RouteActions,
    AuditLogRecorder,
    { provide: APP_INTERCEPTOR, useClass: AuditLogInterceptor },
  ],
  exports: [ApiKeysRepository, ApiKeyRevocations, CallerAuthenticator, RouteAccessCheck, AuditLogRepository, AuditLogRecorder],
})
export class AuthModule {}

/** The API keys and audit log APIs (api role). */
@Module({ controllers: [ApiKeysController, AuditLogController], providers: [ApiKeysService] })
export class AuthApiModule {}
