import { Controller, Get, Param, Query } from '@nestjs/common';
import { Authorize } from '../access/authorize';
import {
  ApiBadGatewayResponse,
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiProperty,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { IsString, Matches, MaxLength } from 'class-validator';
import { problems } from '../common/problem';
import { ProblemDto } from '../common/problem.dto';
import { TlogEntries } from './tlog-entries.service';
import { TlogEntryDto } from './tlog-entry.dto';

export class TlogEntryQueryDto {
  @ApiProperty({ description: 'Entry UUID: 80 hex (tree ID + leaf hash) or the 64-hex leaf hash', example: '24296fb24b8ad77a…', maxLength: 80 })
  @IsString({ message: 'uuid is required' })
  @MaxLength(80, { message: 'uuid must be 64 or 80 hexadecimal digits' })
  @Matches(/^([0-9a-fA-F]{16})?[0-9a-fA-F]{64}$/, { message: 'uuid must be 64 or 80 hexadecimal digits' })
  uuid!: string;
}

const DESCRIPTION =
  'Fetched from the configured Rekor (v1) and cached; the SET and inclusion proof are checked against the trust root. ' +
  'When Rekor cannot be reached, entries this service wrote are answered from its signature records (`source: "records"`).';

@ApiTags('transparency log')
@Authorize('records:read')
@Controller('v1/tlog/entries')
export class TlogEntriesController {
  constructor(private readonly entries: TlogEntries) {}

  @Get()
  @ApiOperation({ summary: 'A transparency log entry by UUID, as `rekor-cli get --uuid` shows it', description: DESCRIPTION })
  @ApiOkResponse({ type: TlogEntryDto })
  @ApiBadRequestResponse({ type: ProblemDto, description: 'VALIDATION_FAILED' })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'TLOG_ENTRY_NOT_FOUND' })
  @ApiBadGatewayResponse({ type: ProblemDto, description: 'REKOR_BAD_RESPONSE' })
  @ApiServiceUnavailableResponse({ type: ProblemDto, description: 'REKOR_UNAVAILABLE: Rekor cannot be reached and no record holds the entry' })
  byUuid(@Query() query: TlogEntryQueryDto): Promise<TlogEntryDto> {
    return this.entries.byUuid(query.uuid);
  }

  @Get(':logIndex')
  @ApiOperation({ summary: 'A transparency log entry by log index, as `rekor-cli get --log-index` shows it', description: DESCRIPTION })
  @ApiParam({ name: 'logIndex', schema: { type: 'integer', minimum: 0 }, example: 79571823 })
  @ApiOkResponse({ type: TlogEntryDto })
  @ApiBadRequestResponse({ type: ProblemDto, description: 'VALIDATION_FAILED' })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'TLOG_ENTRY_NOT_FOUND' })
  @ApiBadGatewayResponse({ type: ProblemDto, description: 'REKOR_BAD_RESPONSE' })
  @ApiServiceUnavailableResponse({ type: ProblemDto, description: 'REKOR_UNAVAILABLE: Rekor cannot be reached and no record holds the entry' })
  byLogIndex(@Param('logIndex') logIndex: string): Promise<TlogEntryDto> {
    if (!/^\d{1,16}$/.test(logIndex) || !Number.isSafeInteger(Number(logIndex))) {
      throw problems.validation([{ field: 'logIndex', message: 'must be a non-negative integer' }]);
    }
    return this.entries.byLogIndex(Number(logIndex));
  }
}
