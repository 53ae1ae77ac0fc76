import { Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { DatabaseService } from '../database/database.service';
import type { SignatureFormat, SignatureRow } from '../database/database.types';
import { isUuid } from '../common/uuid';
import { afterCursor, createdAtExact, type PageCursor, pageOf } from './page-cursor';

export interface SignatureFilter {
  /** A manifest digest or a .wasm digest. */
  digest?: string;
  repository?: string;
  identity?: string;
  issuer?: string;
  /** Created at or after (RFC 3339; compared by the database, to the microsecond). */
  since?: string;
  /** Created before (RFC 3339). */
  until?: string;
  format?: SignatureFormat;
}

export interface SignaturePage {
  rows: SignatureRow[];
  /** Where the next page starts, when there is one. */
  next: PageCursor | undefined;
}

/** Reads the signature records: filtered listings, by id, by Rekor log index or entry UUID. */
@Injectable()
export class SignatureRecordQueries {
  constructor(private readonly database: DatabaseService) {}

  /** One page, newest first (created_at desc, id desc), starting after `after`. */
  async list(filter: SignatureFilter, limit: number, after?: PageCursor): Promise<SignaturePage> {
    let query = this.database.db.selectFrom('signatures').selectAll().select(createdAtExact.as('created_at_exact'));
    if (filter.digest !== undefined) query = query.where((eb) => eb.or([eb('manifest_digest', '=', filter.digest!), eb('wasm_digest', '=', filter.digest!)]));
    if (filter.repository !== undefined) query = query.where('repository', '=', filter.repository);
    if (filter.identity !== undefined) query = query.where('identity', '=', filter.identity);
    if (filter.issuer !== undefined) query = query.where('issuer', '=', filter.issuer);
    if (filter.format !== undefined) query = query.where('format', '=', filter.format);
    if (filter.since !== undefined) query = query.where(sql<boolean>`created_at >= ${filter.since}::timestamptz`);
    if (filter.until !== undefined) query = query.where(sql<boolean>`created_at < ${filter.until}::timestamptz`);
    if (after) query = query.where(afterCursor(after));
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    return pageOf(rows, limit);
  }

  async find(id: string): Promise<SignatureRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.database.db.selectFrom('signatures').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Records whose Rekor entry is at `logIndex`, oldest first (several only when they went to different logs). */
  findByLogIndex(logIndex: number): Promise<SignatureRow[]> {
    return this.database.db.selectFrom('signatures').selectAll().where('rekor_log_index', '=', logIndex).orderBy('created_at').execute();
  }

  /**
   * Records of the entry with this UUID: 80 hex (tree ID + leaf hash) or the 64-hex leaf hash. Records
   * hold the 80-hex UUID Rekor gave, or only the leaf hash when Rekor's answer did not name it.
   */
  findByEntryUuid(uuid: string): Promise<SignatureRow[]> {
    const normalized = uuid.toLowerCase();
    const leaf = normalized.slice(-64);
    let query = this.database.db.selectFrom('signatures').selectAll();
    query =
      normalized.length === 80
        ? query.where('rekor_entry_uuid', 'in', [normalized, leaf])
        : query.where((eb) => eb.or([eb('rekor_entry_uuid', '=', leaf), eb(sql`right(rekor_entry_uuid, 64)`, '=', leaf)]));
    return query.orderBy('created_at').execute();
  }
}
