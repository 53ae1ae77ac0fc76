import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { EXAMPLES } from '../openapi/examples';
import { AUDIT_OUTCOMES, AUDIT_TEXT_LIMITS, type AuditOutcome, CREDENTIAL_KINDS, type CredentialKind } from './audit-entry';
import type { AuditEventRow } from './audit-log-tables';

export const DEFAULT_AUDIT_PAGE_SIZE = 50;
export const MAX_AUDIT_PAGE_SIZE = 200;

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
/** `/v1/api-keys/:id`, or with its method: `DELETE /v1/api-keys/:id`. */
export const ROUTE_FILTER = new RegExp(`^(?:(${HTTP_METHODS.join('|')}) )?(/[\\x21-\\x7e]{0,${AUDIT_TEXT_LIMITS.route - 1}})$`);

/** Filters and paging of `GET /v1/audit`. */
export class ListAuditEventsQueryDto {
  @ApiPropertyOptional({ description: 'The caller, by principal (`api-key:<id>` or `oidc:<issuer>#<subject>`), exact', example: 'api-key:bootstrap', maxLength: 1100 })
  @IsOptional()
  @IsString()
  @MaxLength(AUDIT_TEXT_LIMITS.principal)
  caller?: string;

  @ApiPropertyOptional({ description: 'The action: the route’s OpenAPI operationId, exact', example: 'ApiKeys_create', maxLength: 128 })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_ /:.-]{1,128}$/, { message: 'action must be an operationId such as ApiKeys_create (at most 128 characters)' })
  action?: string;

  @ApiPropertyOptional({ description: 'The route pattern, optionally after its method', example: 'POST /v1/artifacts', maxLength: 308 })
  @IsOptional()
  @MaxLength(AUDIT_TEXT_LIMITS.route + 8)
  @Matches(ROUTE_FILTER, { message: 'route must be a route pattern such as /v1/api-keys/:id, optionally after its method (DELETE /v1/api-keys/:id)' })
  route?: string;

  @ApiPropertyOptional({ enum: AUDIT_OUTCOMES, description: 'succeeded (2xx, 3xx), refused (401, 403, 429), failed (other errors), pending (no outcome recorded)' })
  @IsOptional()
  @IsIn(AUDIT_OUTCOMES, { message: `outcome must be one of ${AUDIT_OUTCOMES.join(', ')}` })
  outcome?: AuditOutcome;

  @ApiPropertyOptional({ type: 'integer', minimum: 100, maximum: 599, description: 'The HTTP status answered', example: 403 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'status must be an integer' })
  @Min(100)
  @Max(599)
  status?: number;

  @ApiPropertyOptional({ description: 'Recorded at or after this time (RFC 3339)', format: 'date-time', maxLength: 64 })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  since?: string;

  @ApiPropertyOptional({ description: 'Recorded before this time (RFC 3339)', format: 'date-time', maxLength: 64 })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  until?: string;

  @ApiPropertyOptional({
    description: 'The target: a resource id (an API key, webhook or job id) or a repository (`host[:port]/path`, host in lower case), exact',
    example: EXAMPLES.repository,
    maxLength: 300,
  })
  @IsOptional()
  @IsString()
  @MaxLength(AUDIT_TEXT_LIMITS.repository)
  target?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_AUDIT_PAGE_SIZE, default: DEFAULT_AUDIT_PAGE_SIZE })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(MAX_AUDIT_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from `nextCursor` of the previous page (with the same filters)', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

/** Who made the request, when it was authenticated. */
export class AuditCallerDto {
  @ApiProperty({ enum: ['api-key', 'oidc'] }) kind!: 'api-key' | 'oidc';
  @ApiProperty({ description: 'api-key:<id> or oidc:<issuer>#<subject>', example: 'api-key:bootstrap' }) principal!: string;
  @ApiPropertyOptional({ description: 'API key id' }) keyId?: string;
  @ApiPropertyOptional({ description: 'API key name' }) name?: string;
  @ApiPropertyOptional({ description: 'OIDC token issuer' }) issuer?: string;
  @ApiPropertyOptional({ description: 'OIDC token subject' }) subject?: string;
  @ApiPropertyOptional({ description: 'The trusted-publisher rule that admitted the token' }) rule?: string;
}

/** What an unauthenticated request presented; never the credential itself. */
export class AuditCredentialDto {
  @ApiProperty({
    enum: CREDENTIAL_KINDS,
    description:
      'none (no Authorization header), malformed (not `Bearer <credential>`), api-key (wsk_…), oidc-token (a JWT), unrecognised (another bearer credential: nothing of it is kept)',
  })
  kind!: CredentialKind;
  @ApiPropertyOptional({ description: 'The first characters of a well-formed API key, as key listings show them', example: 'wsk_Ab12' }) keyHint?: string;
  @ApiPropertyOptional({ description: 'The `iss` claim of a token, as the token claims it (not verified)', example: 'https://token.actions.githubusercontent.com' })
  unverifiedIssuer?: string;
}

export class AuditTargetDto {
  @ApiProperty({ type: String, nullable: true, description: 'The repository the request names, canonical (host lower-cased)', example: EXAMPLES.repository })
  repository!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The reference or repository as the caller gave it', example: EXAMPLES.reference })
  reference!: string | null;
  @ApiProperty({ type: String, nullable: true, description: "The resource: the route's {id}, or the id of what the request created (API key, webhook, job)" })
  id!: string | null;
}

/** One audit log entry. */
export class AuditEventDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: String, format: 'date-time', description: 'When the entry was written: for a mutating request, after authentication and before it ran' })
  time!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the outcome was recorded; null while pending' }) completedAt!: string | null;
  @ApiProperty({ description: "The request's id (X-Request-Id, sent or made), as logs and problem documents name it" }) requestId!: string;
  @ApiProperty({ example: 'POST' }) method!: string;
  @ApiProperty({ type: String, nullable: true, description: 'The route pattern', example: '/v1/artifacts' }) route!: string | null;
  @ApiProperty({ description: 'The path requested, without its query string' }) path!: string;
  @ApiProperty({ description: 'The route’s OpenAPI operationId', example: 'Artifacts_upload' }) action!: string;
  @ApiProperty({ type: AuditCallerDto, nullable: true, description: 'The authenticated caller; null when authentication failed or did not happen' })
  caller!: AuditCallerDto | null;
  @ApiProperty({ type: AuditCredentialDto, nullable: true, description: 'When there is no authenticated caller: what was presented' })
  credential!: AuditCredentialDto | null;
  @ApiProperty({ type: AuditTargetDto }) target!: AuditTargetDto;
  @ApiProperty({ enum: AUDIT_OUTCOMES, description: 'pending: written before the request ran, no outcome recorded (running, or the process stopped)' })
  outcome!: AuditOutcome;
  @ApiProperty({ type: 'integer', nullable: true, description: 'The HTTP status answered' }) status!: number | null;
  @ApiProperty({ type: String, nullable: true, description: "The problem document's code, for an error", example: 'SCOPE_MISSING' }) code!: string | null;
  @ApiProperty({ description: "The address the request came from: the TCP peer's (behind a proxy, the proxy's)", example: '192.0.2.10' }) sourceAddress!: string;

  static from(row: AuditEventRow): AuditEventDto {
    return {
      id: row.id,
      time: row.created_at.toISOString(),
      completedAt: row.completed_at?.toISOString() ?? null,
      requestId: row.request_id,
      method: row.method,
      route: row.route,
      path: row.path,
      action: row.action,
      caller: row.caller && row.caller_principal !== null ? { principal: row.caller_principal, ...row.caller } : null,
      credential: row.credential,
      target: { repository: row.target_repository, reference: row.target_reference, id: row.target_id },
      outcome: row.outcome,
      status: row.status,
      code: row.problem_code,
      sourceAddress: row.source_address,
    };
  }
}

export class AuditEventPageDto {
  @ApiProperty({ type: [AuditEventDto] }) items!: AuditEventDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Cursor of the next page; null on the last page' }) nextCursor!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'URL of the next page (same filters); also in the Link header', example: '/v1/audit?limit=50&cursor=…' })
  next!: string | null;
}
