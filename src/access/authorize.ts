import { applyDecorators, createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiForbiddenResponse, ApiServiceUnavailableResponse, ApiTooManyRequestsResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ProblemDto } from '../common/problem.dto';
import type { Caller } from './caller';
import type { Scope } from './scopes';

/** Request budgets, counted per caller across replicas: each limited route draws from one. */
export type RateLimitCategory = 'uploads' | 'signatures' | 'verifications' | 'builds';

/** `authenticated`: any caller, no scope (what it sees is limited to what it owns, e.g. its own jobs). */
export type RequiredScope = Scope | 'authenticated';

export interface RouteAccess {
  scope: RequiredScope;
  rateLimit?: RateLimitCategory;
  /** Outside /v1: the route needs a credential only when this setting is on (METRICS_REQUIRE_AUTH). */
  onlyWhen?: 'metricsRequireAuth';
  /**
   * Whether a request (by its parsed body) changes nothing but its own record of the answer (a
   * verification, an admission review): its audit entry is then written once, with the outcome, when
   * the answer is sent, instead of before the handler and again after it. Requests it says false for
   * (that queue a job, say) are audited before their handler as usual; refusals as for every route.
   */
  auditOnAnswer?: (body: unknown) => boolean;
}

/** auditOnAnswer for routes that only ever answer. */
export const ALWAYS_AUDIT_ON_ANSWER = (): boolean => true;

export const ROUTE_ACCESS = 'wasm-signer:route-access';
/** The OpenAPI extension naming an operation's scope; the 401/403 test matrix is generated from it. */
export const REQUIRED_SCOPE_EXTENSION = 'x-required-scope';
/** The OpenAPI security scheme: Swagger UI's Authorize button takes an API key or an OIDC token. */
export const BEARER_SCHEME = 'bearer';

/**
 * Every `/v1` route names the scope it needs (on the handler or its controller). The global
 * authentication guard refuses a `/v1` route without one, so a new route is never open by mistake.
 */
export function Authorize(
  scope: RequiredScope,
  options: { rateLimit?: RateLimitCategory; onlyWhen?: RouteAccess['onlyWhen']; auditOnAnswer?: RouteAccess['auditOnAnswer'] } = {},
): MethodDecorator & ClassDecorator {
  const access: RouteAccess = {
    scope,
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    ...(options.onlyWhen ? { onlyWhen: options.onlyWhen } : {}),
    ...(options.auditOnAnswer ? { auditOnAnswer: options.auditOnAnswer } : {}),
  };
  return applyDecorators(
    SetMetadata(ROUTE_ACCESS, access),
    ApiBearerAuth(BEARER_SCHEME),
    ApiExtension(REQUIRED_SCOPE_EXTENSION, scope),
    ApiUnauthorizedResponse({
      type: ProblemDto,
      description: 'no credential, or one that is malformed, unknown, expired or revoked (CREDENTIAL_MISSING, API_KEY_INVALID, TOKEN_…)',
    }),
    ApiForbiddenResponse({
      type: ProblemDto,
      description:
        scope === 'authenticated'
          ? 'the credential may not use this repository (REPOSITORY_NOT_ALLOWED), or is an OIDC token no trusted-publisher rule admits (NO_MATCHING_PUBLISHER_RULE)'
          : `the credential lacks the scope ${scope} (SCOPE_MISSING), may not use the repository (REPOSITORY_NOT_ALLOWED), or is an OIDC token no trusted-publisher rule admits (NO_MATCHING_PUBLISHER_RULE)`,
    }),
    ...(options.rateLimit ? rateLimitResponses(options.rateLimit) : []),
  );
}

/** The fields every answer of a rate-limited route carries (draft-ietf-httpapi-ratelimit-headers). */
const RATE_LIMIT_HEADERS = {
  'RateLimit-Policy': { description: 'The caller\'s budget for this kind of request: `"<category>";q=<requests>;w=<seconds>`', schema: { type: 'string' } },
  RateLimit: { description: 'What is left of it: `"<category>";r=<requests left>;t=<seconds until it is whole again>`', schema: { type: 'string' } },
} as const;

/** A rate-limited route's 429 and 503 (merged with a 503 the route documents itself). */
function rateLimitResponses(category: RateLimitCategory): ReturnType<typeof ApiTooManyRequestsResponse>[] {
  const tooMany = [
    `RATE_LIMITED: the caller has spent its ${category} budget for this minute`,
    ...(category === 'uploads' ? ['TOO_MANY_CONCURRENT_UPLOADS: the caller has as many uploads in progress as it may have at once'] : []),
  ];
  return [
    ApiTooManyRequestsResponse({
      type: ProblemDto,
      description: `${tooMany.join('; ')}; Retry-After says when to try again`,
      headers: { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } }, ...RATE_LIMIT_HEADERS },
    }),
    ApiServiceUnavailableResponse({ type: ProblemDto, description: 'RATE_LIMIT_UNAVAILABLE: the rate limits cannot be checked because Redis is unavailable' }),
  ];
}

/** The authenticated caller of this request (set by the authentication guard). */
export const CurrentCaller = createParamDecorator((_data: unknown, context: ExecutionContext): Caller => {
  const caller = requestCaller(context.switchToHttp().getRequest<FastifyRequest>());
  if (!caller) throw new Error('CurrentCaller used on a route without @Authorize');
  return caller;
});

const CALLER = Symbol('caller');

export function setRequestCaller(request: FastifyRequest, caller: Caller): void {
  (request as unknown as Record<symbol, Caller>)[CALLER] = caller;
}

export function requestCaller(request: FastifyRequest): Caller | undefined {
  return (request as unknown as Record<symbol, Caller | undefined>)[CALLER];
}
