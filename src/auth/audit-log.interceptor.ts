import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { from, type Observable, switchMap } from 'rxjs';
import { AuditLogRecorder } from './audit-log.recorder';

/**
 * Global: writes the audit entry of a mutating /v1 request after the authentication guard let it
 * through and before validation and the handler run, so nothing changes without an entry saying who
 * asked. Interceptors run after guards: a request the guard refuses is recorded by the onSend hook.
 */
@Injectable()
export class AuditLogInterceptor implements NestInterceptor {
  constructor(private readonly recorder: AuditLogRecorder) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    return from(this.recorder.recordAttempt(request)).pipe(switchMap(() => next.handle()));
  }
}
