import { Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { DatabaseService } from '../database/database.service';
import { afterCursor, createdAtExact, type PageCursor, pageOf } from '../database/page-cursor';
import type { AuditEntry, AuditOutcome } from './audit-entry';
import type { AuditEventRow, AuditLogTables } from './audit-log-tables';

export interface AuditFilter {
  callerPrincipal?: string;
  action?: string;
  method?: string;
  route?: string;
  outcome?: AuditOutcome;
  status?: number;
  /** Created at or after (RFC 3339; compared by the database, to the microsecond). */
  since?: string;
  /** Created before (RFC 3339). */
  until?: string;
  /** A resource id or a canonical repository name. */
  target?: string;
}

export interface AuditEventPage {
  rows: AuditEventRow[];
  next: PageCursor | undefined;
}

/** The audit log in the system of record: entries written as requests run and end, and filtered listings. */
@Injectable()
export class AuditLogRepository {
  constructor(private readonly database: DatabaseService) {}

  private get db() {
    return this.database.db.withTables<AuditLogTables>();
  }

  /** Writes an entry; one with an outcome is complete at once. Resolves with its id. */
  async insert(entry: AuditEntry): Promise<string> {
    const row = await this.db
      .insertInto('audit_events')
      .values({
        ...(entry.outcome === 'pending' ? {} : { completed_at: sql<Date>`now()` }),
        request_id: entry.requestId,
        method: entry.method,
        route: entry.route,
        path: entry.path,
        action: entry.action,
        caller_principal: entry.callerPrincipal,
        caller: entry.caller === null ? null : JSON.stringify(entry.caller),
        credential: entry.credential === null ? null : JSON.stringify(entry.credential),
        target_repository: entry.target.repository,
        target_reference: entry.target.reference,
        target_id: entry.target.id,
        outcome: entry.outcome,
        status: entry.status,
        problem_code: entry.problemCode,
        source_address: entry.sourceAddress,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /** Records the outcome of an entry written before its request's handler ran (and its target, completed since). */
  async complete(id: string, entry: AuditEntry): Promise<void> {
    const result = await this.db
      .updateTable('audit_events')
      .set({
        completed_at: sql<Date>`now()`,
        outcome: entry.outcome,
        status: entry.status,
        problem_code: entry.problemCode,
        target_repository: entry.target.repository,
        target_reference: entry.target.reference,
        target_id: entry.target.id,
      })
      .where('id', '=', id)
      .executeTakeFirst();
    if (result.numUpdatedRows !== 1n) throw new Error(`audit entry ${id} is not there to complete`);
  }

  /** One page, newest first (created_at desc, id desc), starting after `after`. */
  async list(filter: AuditFilter, limit: number, after?: PageCursor): Promise<AuditEventPage> {
    let query = this.db.selectFrom('audit_events').selectAll().select(createdAtExact.as('created_at_exact'));
    if (filter.callerPrincipal !== undefined) query = query.where('caller_principal', '=', filter.callerPrincipal);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    if (filter.method !== undefined) query = query.where('method', '=', filter.method);
    if (filter.route !== undefined) query = query.where('route', '=', filter.route);
    if (filter.outcome !== undefined) query = query.where('outcome', '=', filter.outcome);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.target !== undefined) query = query.where((eb) => eb.or([eb('target_id', '=', filter.target!), eb('target_repository', '=', filter.target!)]));
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
}
