import { type Kysely, sql } from 'kysely';

/**
 * The audit log: one row per mutating /v1 request and per refused authentication or authorization.
 * Rows hold who (the caller, or the kind of credential attempted), what (method, route, action), which
 * target, the outcome, the request id and the source address; never a credential or a request body.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // When the outcome was recorded; null while a mutating request runs (its entry is written first).
    .addColumn('completed_at', 'timestamptz')
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('route', 'text')
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('caller_principal', 'text')
    .addColumn('caller', 'jsonb')
    .addColumn('credential', 'jsonb')
    .addColumn('target_repository', 'text')
    .addColumn('target_reference', 'text')
    .addColumn('target_id', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('status', 'integer')
    .addColumn('problem_code', 'text')
    .addColumn('source_address', 'text', (c) => c.notNull())
    .execute();
  // Listings are newest first (created_at desc, id desc), each filter with the same order behind it.
  await db.schema.createIndex('audit_events_created_at_idx').on('audit_events').columns(['created_at', 'id']).execute();
  for (const column of ['caller_principal', 'action', 'route', 'outcome', 'status', 'target_id', 'target_repository']) {
    await db.schema.createIndex(`audit_events_${column}_idx`).on('audit_events').columns([column, 'created_at', 'id']).execute();
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('audit_events').execute();
}
