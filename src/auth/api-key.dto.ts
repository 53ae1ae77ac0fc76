import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { MAX_REPOSITORY_PATTERNS } from '../access/repository-patterns';
import { SCOPE_DESCRIPTIONS, SCOPES, type Scope } from '../access/scopes';
import { EXAMPLES } from '../openapi/examples';
import type { ApiKeyRow } from './api-key-tables';

export const DEFAULT_API_KEY_PAGE_SIZE = 50;
export const MAX_API_KEY_PAGE_SIZE = 200;

const SCOPE_LIST = SCOPES.map((scope) => `\`${scope}\`: ${SCOPE_DESCRIPTIONS[scope]}`).join('; ');

export class CreateApiKeyDto {
  @ApiProperty({ description: 'What the key is for, shown in lists and the audit log', example: 'ci-hello-http', maxLength: 100 })
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9 ._:/@-]{0,99}$/, { message: 'name must be 1-100 letters, digits, spaces or . _ : / @ - (starting with a letter or digit)' })
  name!: string;

  @ApiProperty({ enum: SCOPES, isArray: true, maxItems: SCOPES.length, description: `What the key may do. ${SCOPE_LIST}.`, example: ['artifacts:write', 'signatures:write'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SCOPES.length)
  @ArrayUnique()
  @IsIn(SCOPES, { each: true, message: `each scope must be one of ${SCOPES.join(', ')}` })
  scopes!: Scope[];

  @ApiProperty({
    type: 'array',
    items: { type: 'string', maxLength: 255 },
    maxItems: MAX_REPOSITORY_PATTERNS,
    description:
      'Where the key may push, sign and verify: `host[:port]/path` patterns, `*` within one path component, `**` across components (`**` alone: everywhere). Matched on the normalised name (host lower-cased, `:443` dropped).',
    example: [EXAMPLES.repository, `${EXAMPLES.repository}/**`],
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_REPOSITORY_PATTERNS)
  @IsString({ each: true })
  @MaxLength(255, { each: true })
  repositories!: string[];

  @ApiPropertyOptional({
    description: 'When the key stops working (RFC 3339); default API_KEY_DEFAULT_TTL_DAYS from now, at most API_KEY_MAX_TTL_DAYS',
    format: 'date-time',
    maxLength: 64,
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  expiresAt?: string;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'The first characters of the key, to tell keys apart', example: 'wsk_Ab12' }) hint!: string;
  @ApiProperty({ enum: SCOPES, isArray: true }) scopes!: string[];
  @ApiProperty({ type: [String] }) repositories!: string[];
  @ApiProperty({ enum: ['active', 'expired', 'revoked'] }) state!: 'active' | 'expired' | 'revoked';
  @ApiProperty({ description: 'The caller that created it (principal)', example: 'api-key:bootstrap' }) createdBy!: string;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time' }) expiresAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Last successful authentication (to the minute)' }) lastUsedAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) revokedAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) revokedBy!: string | null;

  static from(row: ApiKeyRow, now = new Date()): ApiKeyDto {
    return {
      id: row.id,
      name: row.name,
      hint: row.key_hint,
      scopes: row.scopes,
      repositories: row.repositories,
      state: row.revoked_at ? 'revoked' : row.expires_at <= now ? 'expired' : 'active',
      createdBy: row.created_by,
      createdAt: row.created_at.toISOString(),
      expiresAt: row.expires_at.toISOString(),
      lastUsedAt: row.last_used_at?.toISOString() ?? null,
      revokedAt: row.revoked_at?.toISOString() ?? null,
      revokedBy: row.revoked_by,
    };
  }
}

export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({ description: 'The key: send it as `Authorization: Bearer <key>`. Shown only now; the service keeps only its hash.', example: 'wsk_…' })
  key!: string;
}

export class ListApiKeysQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_API_KEY_PAGE_SIZE, default: DEFAULT_API_KEY_PAGE_SIZE })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(MAX_API_KEY_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from `nextCursor` of the previous page', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

export class ApiKeyPageDto {
  @ApiProperty({ type: [ApiKeyDto] }) items!: ApiKeyDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page; null on the last page' }) nextCursor!: string | null;
}
