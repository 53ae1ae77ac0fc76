import { type Kysely, sql } from 'kysely';

/** Jobs, artifacts and signatures: what the publish, sign and verify capabilities record first. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('jobs')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('type', 'text', (c) => c.notNull().check(sql`type in ('publish','sign','build','verify','probe')`))
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('queued','running','succeeded','failed')`))
    .addColumn('idempotency_key', 'text')
    .addColumn('request_hash', 'text')
    .addColumn('caller', 'text')
    .addColumn('input', 'jsonb', (c) => c.notNull())
    .addColumn('steps', 'jsonb', (c) => c.notNull())
    .addColumn('result', 'jsonb')
    .addColumn('error', 'jsonb')
    .addColumn('callback_url', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .execute();
  // One job per (caller, key); a null caller is the anonymous caller, so coalesce it.
  await sql`create unique index jobs_idempotency_key_idx on jobs (coalesce(caller, ''), idempotency_key) where idempotency_key is not null`.execute(db);
  await db.schema.createIndex('jobs_created_at_idx').on('jobs').column('created_at').execute();

  await db.schema
    .createTable('artifacts')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('tag', 'text')
    .addColumn('manifest_digest', 'text', (c) => c.notNull())
    .addColumn('wasm_digest', 'text', (c) => c.notNull())
    .addColumn('wasm_size', 'bigint', (c) => c.notNull())
    .addColumn('wasm_kind', 'text', (c) => c.notNull().check(sql`wasm_kind in ('component','module')`))
    .addColumn('config_json', 'jsonb', (c) => c.notNull())
    .addColumn('annotations', 'jsonb', (c) => c.notNull())
    .addColumn('job_id', 'uuid', (c) => c.references('jobs.id').onDelete('set null'))
    .addColumn('caller', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('artifacts_repository_digest_idx').on('artifacts').columns(['repository', 'manifest_digest']).execute();
  await db.schema.createIndex('artifacts_wasm_digest_idx').on('artifacts').column('wasm_digest').execute();

  await db.schema
    .createTable('signatures')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('job_id', 'uuid', (c) => c.references('jobs.id').onDelete('set null'))
    .addColumn('artifact_id', 'uuid', (c) => c.references('artifacts.id').onDelete('set null'))
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('reference', 'text', (c) => c.notNull())
    .addColumn('manifest_digest', 'text', (c) => c.notNull())
    .addColumn('wasm_digest', 'text')
    .addColumn('format', 'text', (c) => c.notNull().check(sql`format in ('cosign-classic','sigstore-bundle')`))
    .addColumn('rekor_log_index', 'bigint', (c) => c.notNull())
    .addColumn('rekor_entry_uuid', 'text', (c) => c.notNull())
    .addColumn('rekor_integrated_time', 'timestamptz', (c) => c.notNull())
    .addColumn('rekor_log_id', 'text', (c) => c.notNull())
    .addColumn('certificate_pem', 'text', (c) => c.notNull())
    .addColumn('identity', 'text', (c) => c.notNull())
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('certificate_not_before', 'timestamptz', (c) => c.notNull())
    .addColumn('certificate_not_after', 'timestamptz', (c) => c.notNull())
    .addColumn('bundle', 'jsonb', (c) => c.notNull())
    .addColumn('caller', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // A job writes each format once, even when its sign step runs again after a crash.
  await sql`create unique index signatures_job_format_idx on signatures (job_id, format) where job_id is not null`.execute(db);
  await db.schema.createIndex('signatures_manifest_digest_idx').on('signatures').column('manifest_digest').execute();
  await db.schema.createIndex('signatures_rekor_log_index_idx').on('signatures').column('rekor_log_index').execute();
  await db.schema.createIndex('signatures_rekor_entry_uuid_idx').on('signatures').column('rekor_entry_uuid').execute();
  await db.schema.createIndex('signatures_identity_idx').on('signatures').columns(['identity', 'created_at']).execute();
  await db.schema.createIndex('signatures_created_at_idx').on('signatures').columns(['created_at', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('signatures').execute();
  await db.schema.dropTable('artifacts').execute();
  await db.schema.dropTable('jobs').execute();
}
