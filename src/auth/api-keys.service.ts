import { Inject, Injectable } from '@nestjs/common';
import type { Caller } from '../access/caller';
import { InvalidRepositoryPatternError, RepositoryPatterns } from '../access/repository-patterns';
import { problems } from '../common/problem';
import { parseRfc3339 } from '../common/rfc3339';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { decodePageCursor, encodePageCursor } from '../database/page-cursor';
import { apiKeyHash, apiKeyHint, newApiKey } from './api-key-token';
import { ApiKeyDto, type ApiKeyPageDto, type CreateApiKeyDto, type CreatedApiKeyDto, DEFAULT_API_KEY_PAGE_SIZE } from './api-key.dto';
import { ApiKeyRevocations } from './api-key-revocations';
import { ApiKeysRepository } from './api-keys.repository';

const DAY_MS = 86_400_000;

/** Creating, listing and revoking API keys (admins only; the controller checks the scope). */
@Injectable()
export class ApiKeysService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: ApiKeysRepository,
    private readonly revocations: ApiKeyRevocations,
  ) {}

  async create(request: CreateApiKeyDto, creator: Caller): Promise<CreatedApiKeyDto> {
    let repositories: RepositoryPatterns;
    try {
      repositories = RepositoryPatterns.parse(request.repositories);
    } catch (error) {
      if (error instanceof InvalidRepositoryPatternError) throw problems.validation([{ field: 'repositories', message: error.message }]);
      throw error;
    }
    const expiresAt = this.expiry(request.expiresAt);
    const key = newApiKey();
    const row = await this.repository.create({
      name: request.name,
      keyHash: apiKeyHash(key),
      keyHint: apiKeyHint(key),
      scopes: request.scopes,
      repositories: [...repositories.patterns],
      createdBy: creator.principal,
      expiresAt,
    });
    return { ...ApiKeyDto.from(row), key };
  }

  private expiry(requested: string | undefined): Date {
    const now = Date.now();
    const { apiKeyDefaultTtlDays, apiKeyMaxTtlDays } = this.config.auth;
    if (requested === undefined) return new Date(now + apiKeyDefaultTtlDays * DAY_MS);
    const at = parseRfc3339(requested);
    if (at === undefined) throw problems.validation([{ field: 'expiresAt', message: 'must be an RFC 3339 date-time, e.g. 2027-03-01T00:00:00Z' }]);
    if (at.epochMs <= now) throw problems.validation([{ field: 'expiresAt', message: 'must be in the future' }]);
    if (at.epochMs > now + apiKeyMaxTtlDays * DAY_MS) {
      throw problems.validation([{ field: 'expiresAt', message: `must be at most ${apiKeyMaxTtlDays} days from now (API_KEY_MAX_TTL_DAYS)` }]);
    }
    return new Date(at.epochMs);
  }

  async list(query: { limit?: number; cursor?: string }): Promise<ApiKeyPageDto> {
    const after = query.cursor === undefined ? undefined : decodePageCursor(query.cursor);
    if (query.cursor !== undefined && !after) throw problems.validation([{ field: 'cursor', message: 'is not a cursor this service issued' }]);
    const page = await this.repository.list(query.limit ?? DEFAULT_API_KEY_PAGE_SIZE, after);
    const now = new Date();
    return { items: page.rows.map((row) => ApiKeyDto.from(row, now)), nextCursor: page.next ? encodePageCursor(page.next) : null };
  }

  async find(id: string): Promise<ApiKeyDto> {
    const row = await this.repository.find(id);
    if (!row) throw problems.notFound('API key', id);
    return ApiKeyDto.from(row);
  }

  /**
   * Revokes the key; its next request is refused, on every replica: the processes that cached it drop it
   * (this one before answering, the others as the Redis message reaches them).
   */
  async revoke(id: string, revoker: Caller): Promise<ApiKeyDto> {
    const row = await this.repository.revoke(id, revoker.principal);
    if (!row) throw problems.notFound('API key', id);
    await this.revocations.publish(row.id);
    return ApiKeyDto.from(row);
  }
}
