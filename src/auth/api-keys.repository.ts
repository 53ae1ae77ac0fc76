import { Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { isUuid } from '../common/uuid';
import { DatabaseService } from '../database/database.service';
import { afterCursor, createdAtExact, type PageCursor, pageOf } from '../database/page-cursor';
import type { ApiKeyRow, ApiKeyTables } from './api-key-tables';

export interface NewApiKeyRow {
  name: string;
  keyHash: string;
  keyHint: string;
  scopes: string[];
  repositories: string[];
  createdBy: string;
  expiresAt: Date;
}

/** How often a key's last-used time is written: at most once a minute per key, not on every request. */
const LAST_USED_RESOLUTION = '60 seconds';

/** API keys in the system of record, by id or by the hash of the key. */
@Injectable()
export class ApiKeysRepository {
  constructor(private readonly database: DatabaseService) {}

  private get db() {
    return this.database.db.withTables<ApiKeyTables>();
  }

  create(key: NewApiKeyRow): Promise<ApiKeyRow> {
    return this.db
      .insertInto('api_keys')
      .values({
        name: key.name,
        key_hash: key.keyHash,
        key_hint: key.keyHint,
        scopes: JSON.stringify(key.scopes),
        repositories: JSON.stringify(key.repositories),
        created_by: key.createdBy,
        expires_at: key.expiresAt,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  findByHash(keyHash: string): Promise<ApiKeyRow | undefined> {
    return this.db.selectFrom('api_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
  }

  async find(id: string): Promise<ApiKeyRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** One page, newest first (created_at desc, id desc), starting after `after`. */
  async list(limit: number, after?: PageCursor): Promise<{ rows: ApiKeyRow[]; next: PageCursor | undefined }> {
    let query = this.db.selectFrom('api_keys').selectAll().select(createdAtExact.as('created_at_exact'));
    if (after) query = query.where(afterCursor(after));
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    return pageOf(rows, limit);
  }

  /** Revokes once: a second revocation keeps the first time and revoker. */
  async revoke(id: string, revokedBy: string): Promise<ApiKeyRow | undefined> {
    if (!isUuid(id)) return undefined;
    await this.db.updateTable('api_keys').set({ revoked_at: new Date(), revoked_by: revokedBy }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    return this.find(id);
  }

  async touch(id: string): Promise<void> {
    await this.db
      .updateTable('api_keys')
      .set({ last_used_at: sql`now()` })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`now() - ${LAST_USED_RESOLUTION}::interval`)]))
      .execute();
  }
}
