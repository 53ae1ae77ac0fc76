import { Controller, Get, Header, Param, Query, Res } from '@nestjs/common';
import { Authorize } from '../access/authorize';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { problems } from '../common/problem';
import { ProblemDto } from '../common/problem.dto';
import { ApiUuidParam } from '../openapi/path-params';
import { parseRfc3339 } from '../common/rfc3339';
import { decodePageCursor, encodePageCursor } from '../database/page-cursor';
import { type SignatureFilter, SignatureRecordQueries } from '../database/signature-record-queries';
import { DEFAULT_PAGE_SIZE, ListSignaturesQueryDto, SignatureRecordDto, SignatureRecordPageDto, SignatureRecordSummaryDto } from './signature-record.dto';

export const PEM_CERTIFICATE_CHAIN = 'application/pem-certificate-chain';

/** The signature records, for auditors: Rekor entry, certificate, bundle. */
@ApiTags('signatures')
@Authorize('records:read')
@Controller('v1/signatures')
export class SignatureRecordsController {
  constructor(private readonly records: SignatureRecordQueries) {}

  @Get()
  @ApiOperation({
    summary: 'List signature records',
    description: 'Newest first (creation time, then id). Filters combine with AND. Follow `next` (or pass `nextCursor` as `cursor` with the same filters) for the next page.',
  })
  @ApiOkResponse({ type: SignatureRecordPageDto, headers: { Link: { description: '`<next URL>; rel="next"` when there is a next page', schema: { type: 'string' } } } })
  @ApiBadRequestResponse({ type: ProblemDto, description: 'VALIDATION_FAILED: a filter, the limit or the cursor is not valid' })
  async list(@Query() query: ListSignaturesQueryDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<SignatureRecordPageDto> {
    const filter = toFilter(query);
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const after = query.cursor === undefined ? undefined : decodePageCursor(query.cursor);
    if (query.cursor !== undefined && !after) throw problems.validation([{ field: 'cursor', message: 'is not a cursor this service issued' }]);
    const page = await this.records.list(filter, limit, after);
    const nextCursor = page.next ? encodePageCursor(page.next) : null;
    const next = nextCursor ? nextPageUrl(query, limit, nextCursor) : null;
    if (next) void reply.header('link', `<${next}>; rel="next"`);
    return { items: page.rows.map((row) => SignatureRecordSummaryDto.from(row)), nextCursor, next };
  }

  @Get(':id')
  @ApiOperation({
    summary: 'A signature record: Rekor entry, identity, certificate (PEM and decoded), bundle',
    description:
      'What the service recorded when it signed: the signed reference and digest, the format, the certificate identity and issuer, the Rekor log index and entry UUID, and the Sigstore bundle.',
  })
  @ApiUuidParam()
  @ApiOkResponse({ type: SignatureRecordDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'SIGNATURE_NOT_FOUND' })
  async get(@Param('id') id: string): Promise<SignatureRecordDto> {
    const row = await this.records.find(id);
    if (!row) throw problems.notFound('Signature', id);
    return SignatureRecordDto.fromRow(row);
  }

  @Get(':id/certificate')
  @Header('content-type', PEM_CERTIFICATE_CHAIN)
  @ApiOperation({
    summary: "The signature's leaf certificate, PEM",
    description: 'The short-lived Fulcio certificate the signature was made with, as `openssl x509 -text` reads it.',
  })
  @ApiUuidParam()
  @ApiProduces(PEM_CERTIFICATE_CHAIN)
  @ApiOkResponse({ description: 'The PEM certificate', schema: { type: 'string', example: '-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n' } })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'SIGNATURE_NOT_FOUND' })
  async certificate(@Param('id') id: string): Promise<string> {
    const row = await this.records.find(id);
    if (!row) throw problems.notFound('Signature', id);
    return row.certificate_pem.endsWith('\n') ? row.certificate_pem : `${row.certificate_pem}\n`;
  }
}

function toFilter(query: ListSignaturesQueryDto): SignatureFilter {
  const errors: { field: string; message: string }[] = [];
  const time = (field: 'since' | 'until') => {
    const value = query[field];
    if (value === undefined) return undefined;
    const parsed = parseRfc3339(value);
    if (!parsed) errors.push({ field, message: 'must be an RFC 3339 date-time' });
    return parsed;
  };
  const since = time('since');
  const until = time('until');
  if (since && until && since.epochMs > until.epochMs) errors.push({ field: 'since', message: 'must not be after until' });
  if (errors.length > 0) throw problems.validation(errors);
  // The times go to the database as text, so that their microseconds count.
  return { digest: query.digest, repository: query.repository, identity: query.identity, issuer: query.issuer, since: since?.text, until: until?.text, format: query.format };
}

function nextPageUrl(query: ListSignaturesQueryDto, limit: number, cursor: string): string {
  const params = new URLSearchParams();
  for (const name of ['digest', 'repository', 'identity', 'issuer', 'since', 'until', 'format'] as const) {
    const value = query[name];
    if (value !== undefined) params.set(name, value);
  }
  params.set('limit', String(limit));
  params.set('cursor', cursor);
  return `/v1/signatures?${params.toString()}`;
}
