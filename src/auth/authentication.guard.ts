import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { accessProblems } from '../access/access-problems';
import { requestCaller, ROUTE_ACCESS, type RouteAccess, setRequestCaller } from '../access/authorize';
import { type Caller, callerMay } from '../access/caller';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { CallerAuthenticator } from './caller-authenticator';

/** Routes under this prefix need a credential; health, metrics and the API documents stay open. */
export const PROTECTED_PREFIX = '/v1/';

/** What a `/v1` route declares; undefined for a route that declares nothing (refused, see below). */
export function routeAccess(reflector: Reflector, context: ExecutionContext): RouteAccess | undefined {
  return reflector.getAllAndOverride<RouteAccess | undefined>(ROUTE_ACCESS, [context.getHandler(), context.getClass()]);
}

/**
 * The global guard: every `/v1` route authenticates its caller and checks the scope it declares with
 * `@Authorize`. A `/v1` route that declares none is refused for everyone (and the start-up check and the
 * OpenAPI test name it), so no route is ever open by omission.
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: CallerAuthenticator,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const path = request.routeOptions.url ?? request.url;
    const access = routeAccess(this.reflector, context);
    if (!path.startsWith(PROTECTED_PREFIX) && !(access?.onlyWhen === 'metricsRequireAuth' && this.config.metrics.requireAuth)) return true;
    // Normally the caller was authenticated before the body was read (authenticateBeforeBody).
    const caller = requestCaller(request) ?? (await this.authenticator.authenticate(request.headers.authorization));
    setRequestCaller(request, caller);
    if (!access) throw new Error(`route ${request.method} ${path} declares no scope (@Authorize)`);
    assertScope(caller, access);
    return true;
  }
}

/** Refuses (403 SCOPE_MISSING) a caller without the scope the route declares. */
export function assertScope(caller: Caller, access: RouteAccess): void {
  if (access.scope !== 'authenticated' && !callerMay(caller, access.scope)) throw accessProblems.scopeMissing(access.scope);
}

/**
 * Authenticates `/v1` requests (and /metrics when METRICS_REQUIRE_AUTH is on) and checks their scope as
 * soon as their headers are in, before any body is read or parsed: a caller without a valid credential,
 * or without the scope, costs no JSON parsing or multipart handling and learns nothing about the body it
 * sent (401 and 403 come before 400, 413 or 415). The guard then finds the work done.
 */
export function authenticateBeforeBody(
  fastify: FastifyInstance,
  authenticator: CallerAuthenticator,
  config: AppConfig,
  accessTable: () => Map<string, RouteAccess | undefined>,
): void {
  fastify.addHook('onRequest', async (request) => {
    const path = request.routeOptions.url;
    if (path === undefined) return; // no such route: 404 as usual
    if (!path.startsWith(PROTECTED_PREFIX) && !(path === '/metrics' && config.metrics.requireAuth)) return;
    const caller = await authenticator.authenticate(request.headers.authorization);
    setRequestCaller(request, caller);
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const access = accessTable().get(`${method} ${path}`);
    if (access) assertScope(caller, access);
  });
}
