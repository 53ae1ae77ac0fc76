import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { Reflector } from '@nestjs/core';
import { from, type Observable, switchMap } from 'rxjs';
import { AuditLogRecorder } from './audit-log.recorder';
import { routeAccess } from './authentication.guard';

/**
 * Global: writes the audit entry of a mutating /v1 request after the authentication guard let it
 * through and before validation and the handler run, so nothing changes without an entry saying who
 * asked. Interceptors run after guards: a request the guard refuses is recorded by the onSend hook.
 * A request its route's `auditOnAnswer` says only answers (its only effect is its own record) gets one
 * entry, written by the onSend hook with the outcome.
 */
@Injectable()
export class AuditLogInterceptor implements NestInterceptor {
  constructor(
    private readonly recorder: AuditLogRecorder,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (routeAccess(this.reflector, context)?.auditOnAnswer?.(request.body)) return next.handle();
    return from(this.recorder.recordAttempt(request)).pipe(switchMap(() => next.handle()));
  }
}
