import { Global, Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';
import { AuditLogController } from './audit-log.controller';
import { AuditLogInterceptor } from './audit-log.interceptor';
import { AuditLogRecorder } from './audit-log.recorder';
import { AuditLogRepository } from './audit-log.repository';
import { AuthenticationGuard } from './authentication.guard';
import { CallerAuthenticator } from './caller-authenticator';
import { RouteActions } from './route-actions';
import { TrustedPublishers } from './trusted-publishers';

/**
 * Who is calling, on every route of every role: the global guard and what it checks credentials against;
 * the audit log's recorder (its interceptor writes the entry of a mutating request before it runs; the
 * application's onSend hook calls `AuditLogRecorder.recordResponse` for the outcome).
 */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [
    ApiKeysRepository,
    TrustedPublishers,
    CallerAuthenticator,
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    AuditLogRepository,
    RouteActions,
    AuditLogRecorder,
    { provide: APP_INTERCEPTOR, useClass: AuditLogInterceptor },
  ],
  exports: [ApiKeysRepository, CallerAuthenticator, AuditLogRepository, AuditLogRecorder],
})
export class AuthModule {}

/** The API keys and audit log APIs (api role). */
@Module({ controllers: [ApiKeysController, AuditLogController], providers: [ApiKeysService] })
export class AuthApiModule {}
