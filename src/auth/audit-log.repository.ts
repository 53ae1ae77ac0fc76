import { randomUUID } from 'node:crypto';
import { type BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { DatabaseService } from '../database/database.service';
import { GroupCommit, RowRefused } from '../database/group-commit';
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

/** Entries per statement, and statements at once (a few, so one slow statement does not hold every request). */
const AUDIT_BATCHES = { maxRows: 128, maxInFlight: 4 };

/** The audit log in the system of record: entries written as requests run and end, and filtered listings. */
@Injectable()
export class AuditLogRepository implements BeforeApplicationShutdown {
  private readonly inserts = new GroupCommit<AuditEntry, string>({ writeBatch: (entries) => this.insertBatch(entries), ...AUDIT_BATCHES });
  private readonly completions = new GroupCommit<{ id: string; entry: AuditEntry }, void>({
    writeBatch: (completions) => this.completeBatch(completions),
    ...AUDIT_BATCHES,
  });

  constructor(private readonly database: DatabaseService) {}

  private get db() {
    return this.database.db.withTables<AuditLogTables>();
  }

  /**
   * Writes an entry; one with an outcome is complete at once. Resolves with its id once the entry has
   * committed: entries of concurrent requests share one INSERT (group commit), none is answered early.
   */
  insert(entry: AuditEntry): Promise<string> {
    return this.inserts.add(entry);
  }

  /**
   * Records the outcome of an entry written before its request's handler ran (and its target, completed
   * since). Resolves once committed; outcomes of concurrent requests share one UPDATE.
   */
  complete(id: string, entry: AuditEntry): Promise<void> {
    return this.completions.add({ id, entry });
  }

  /** Every entry and outcome handed over so far is written (or refused) before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([this.inserts.drain(), this.completions.drain()]);
  }

  /**
   * The entries as one INSERT. Ids are made here, so each caller gets its own without relying on the
   * order of RETURNING; `clock_timestamp()` (not `now()`, the transaction's start) keeps the entries of
   * one statement in the order they were handed over.
   */
  private async insertBatch(entries: AuditEntry[]): Promise<string[]> {
    const ids = entries.map(() => randomUUID());
    await this.db
      .insertInto('audit_events')
      .values(
        entries.map((entry, i) => ({
          id: ids[i]!,
          created_at: sql<Date>`clock_timestamp()`,
          completed_at: entry.outcome === 'pending' ? null : sql<Date>`clock_timestamp()`,
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
        })),
      )
      .execute();
    return ids;
  }

  /** The outcomes as one UPDATE … FROM (VALUES …); an entry that is not there fails its own caller only. */
  private async completeBatch(completions: { id: string; entry: AuditEntry }[]): Promise<(RowRefused | undefined)[]> {
    const rows = completions.map(
      ({ id, entry }) =>
        sql`(${id}, ${entry.outcome}, ${entry.status === null ? null : String(entry.status)}, ${entry.problemCode}, ${entry.target.repository}, ${entry.target.reference}, ${entry.target.id})`,
    );
    const updated = await sql<{ id: string }>`
      update audit_events as a set
        completed_at = clock_timestamp(),
        outcome = v.outcome,
        status = v.status::integer,
        problem_code = v.problem_code,
        target_repository = v.target_repository,
        target_reference = v.target_reference,
        target_id = v.target_id
      from (values ${sql.join(rows)}) as v (id, outcome, status, problem_code, target_repository, target_reference, target_id)
      where a.id = v.id::uuid
      returning a.id`.execute(this.db);
    const done = new Set(updated.rows.map((row) => row.id));
    return completions.map(({ id }) => (done.has(id) ? undefined : new RowRefused(new Error(`audit entry ${id} is not there to complete`))));
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
