import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authorize, CurrentCaller } from '../access/authorize';
import type { Caller } from '../access/caller';
import { ProblemDto } from '../common/problem.dto';
import { EXAMPLES } from '../openapi/examples';
import { ApiUuidParam } from '../openapi/path-params';
import { ApiKeyDto, ApiKeyPageDto, CreateApiKeyDto, CreatedApiKeyDto, ListApiKeysQueryDto } from './api-key.dto';
import { ApiKeysService } from './api-keys.service';

@ApiTags('access')
@Controller('v1/api-keys')
@Authorize('admin')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @ApiOperation({
    summary: 'Create an API key',
    description: 'The key (`wsk_` and 256 random bits) is in the answer and never again: the service keeps only its SHA-256. Send it as `Authorization: Bearer <key>`.',
  })
  @ApiBody({
    type: CreateApiKeyDto,
    examples: {
      ci: {
        summary: 'A CI key that may publish and sign the example repository',
        value: { name: 'ci-hello-http', scopes: ['artifacts:write', 'signatures:write'], repositories: [EXAMPLES.repository, `${EXAMPLES.repository}/**`] },
      },
      unknownScope: { summary: 'A scope that does not exist: 400', value: { name: 'typo', scopes: ['artifacts:admin'], repositories: ['**'] } },
    },
  })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiBadRequestResponse({ type: ProblemDto, description: 'VALIDATION_FAILED: a scope, repository pattern, name or expiry is not valid' })
  create(@Body() body: CreateApiKeyDto, @CurrentCaller() caller: Caller): Promise<CreatedApiKeyDto> {
    return this.apiKeys.create(body, caller);
  }

  @Get()
  @ApiOperation({
    summary: 'List API keys (newest first, without the keys)',
    description: 'Revoked and expired keys are listed too, with `revokedAt` and `expiresAt`. Follow `nextCursor` for the next page.',
  })
  @ApiOkResponse({ type: ApiKeyPageDto })
  @ApiBadRequestResponse({ type: ProblemDto, description: 'VALIDATION_FAILED: the limit or cursor is not valid' })
  list(@Query() query: ListApiKeysQueryDto): Promise<ApiKeyPageDto> {
    return this.apiKeys.list(query);
  }

  @Get(':id')
  @ApiUuidParam()
  @ApiOperation({
    summary: 'One API key (without the key)',
    description: 'Its name, scopes, repository patterns, creator, expiry and revocation; the key itself was shown once, at creation.',
  })
  @ApiOkResponse({ type: ApiKeyDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'API_KEY_NOT_FOUND' })
  find(@Param('id') id: string): Promise<ApiKeyDto> {
    return this.apiKeys.find(id);
  }

  @Delete(':id')
  @ApiUuidParam()
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke an API key', description: 'Its next request is refused (401 API_KEY_REVOKED), on every replica. Revoking twice keeps the first revocation.' })
  @ApiOkResponse({ type: ApiKeyDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'API_KEY_NOT_FOUND' })
  revoke(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<ApiKeyDto> {
    return this.apiKeys.revoke(id, caller);
  }
}
