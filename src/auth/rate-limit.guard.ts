import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { requestCaller } from '../access/authorize';
import { routeAccess } from './authentication.guard';
import { CallerRateLimits } from './caller-rate-limits';

/**
 * The second global guard (after AuthenticationGuard, which knows the caller): a route that declares a
 * rate-limit category (`@Authorize(scope, { rateLimit })`) counts each request against the caller's
 * budget, before the body is validated or the handler runs, and answers with the RateLimit fields. An
 * upload also holds one of the caller's upload slots until its response is finished or its connection
 * closes.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limits: CallerRateLimits,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const category = context.getType() === 'http' ? routeAccess(this.reflector, context)?.rateLimit : undefined;
    if (!category) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const caller = requestCaller(request);
    if (!caller) throw new Error(`RateLimitGuard ran before AuthenticationGuard on ${request.method} ${request.url}`);

    void reply.headers(await this.limits.count(category, caller.principal));
    if (category === 'uploads') {
      const release = await this.limits.takeUploadSlot(caller.principal);
      // 'close' is emitted once the response is sent, and also when the client goes away before that
      // (which may already have happened while the budget was counted).
      reply.raw.once('close', release);
      if (reply.raw.closed) release();
    }
    return true;
  }
}
