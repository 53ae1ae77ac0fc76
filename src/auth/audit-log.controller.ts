import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Authorize } from '../access/authorize';
import { problems } from '../common/problem';
import { ProblemDto } from '../common/problem.dto';
import { parseRfc3339 } from '../common/rfc3339';
import { decodePageCursor, encodePageCursor } from '../database/page-cursor';
import { AuditEventDto, AuditEventPageDto, DEFAULT_AUDIT_PAGE_SIZE, ListAuditEventsQueryDto, ROUTE_FILTER } from './audit-log.dto';
import { type AuditFilter, AuditLogRepository } from './audit-log.repository';

/** The audit log, for admins: every change and every refusal, who asked, from where, and what came of it. */
@ApiTags('access')
@Controller('v1/audit')
@Authorize('admin')
export class AuditLogController {
  constructor(private readonly entries: AuditLogRepository) {}

  @Get()
  @ApiOperation({
    summary: 'The audit log (newest first, paged)',
    description:
      'One entry per mutating /v1 request (POST, PUT, PATCH, DELETE; whatever its outcome) and per refused authentication or authorization (401, 403, 429; any method): the caller (or the kind of credential attempted, never the credential), method, route and action, the target, the outcome, status and problem code, the request id and the source address. Filters combine with AND; follow `next` for the next page.',
  })
  @ApiOkResponse({ type: AuditEventPageDto, headers: { Link: { description: '`<next URL>; rel="next"` when there is a next page', schema: { type: 'string' } } } })
  @ApiBadRequestResponse({ type: ProblemDto, description: 'VALIDATION_FAILED: a filter, the limit or the cursor is not valid' })
  async list(@Query() query: ListAuditEventsQueryDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<AuditEventPageDto> {
    const filter = auditFilter(query);
    const limit = query.limit ?? DEFAULT_AUDIT_PAGE_SIZE;
    const after = query.cursor === undefined ? undefined : decodePageCursor(query.cursor);
    if (query.cursor !== undefined && !after) throw problems.validation([{ field: 'cursor', message: 'is not a cursor this service issued' }]);
    const page = await this.entries.list(filter, limit, after);
    const nextCursor = page.next ? encodePageCursor(page.next) : null;
    const next = nextCursor ? nextPageUrl(query, limit, nextCursor) : null;
    if (next) void reply.header('link', `<${next}>; rel="next"`);
    return { items: page.rows.map((row) => AuditEventDto.from(row)), nextCursor, next };
  }
}

const FILTERS = ['caller', 'action', 'route', 'outcome', 'status', 'since', 'until', 'target'] as const;

export function auditFilter(query: ListAuditEventsQueryDto): AuditFilter {
  const errors: { field: string; message: string }[] = [];
  const time = (field: 'since' | 'until') => {
    const value = query[field];
    if (value === undefined) return undefined;
    const parsed = parseRfc3339(value);
    if (!parsed) errors.push({ field, message: 'must be an RFC 3339 date-time, e.g. 2026-12-01T00:00:00Z' });
    return parsed;
  };
  const since = time('since');
  const until = time('until');
  if (since && until && since.epochMs > until.epochMs) errors.push({ field: 'since', message: 'must not be after until' });
  if (errors.length > 0) throw problems.validation(errors);
  const route = query.route === undefined ? undefined : ROUTE_FILTER.exec(query.route);
  return {
    callerPrincipal: query.caller,
    action: query.action,
    method: route?.[1],
    route: route?.[2],
    outcome: query.outcome,
    status: query.status,
    // The times go to the database as text, so that their microseconds count.
    since: since?.text,
    until: until?.text,
    target: query.target,
  };
}

function nextPageUrl(query: ListAuditEventsQueryDto, limit: number, cursor: string): string {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const value = query[name];
    if (value !== undefined) params.set(name, String(value));
  }
  params.set('limit', String(limit));
  params.set('cursor', cursor);
  return `/v1/audit?${params.toString()}`;
}
