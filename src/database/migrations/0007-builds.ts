import { type Kysely, sql } from 'kysely';

/**
 * Build jobs: the uploaded source archives (kept by digest, in chunks so that neither side holds a whole
 * archive in memory), one record per build (builder, toolchain, source, log), and the attestations the
 * service signs (SLSA provenance), with their Rekor entries.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('build_sources')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    // Chunks are written first; a source is usable once `complete` (a crash part-way leaves it incomplete).
    .addColumn('complete', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('build_source_chunks')
    .addColumn('digest', 'text', (c) => c.notNull().references('build_sources.digest').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('bytes', 'bytea', (c) => c.notNull())
    .addPrimaryKeyConstraint('build_source_chunks_pk', ['digest', 'seq'])
    .execute();

  await db.schema
    .createTable('builds')
    .addColumn('job_id', 'uuid', (c) => c.primaryKey().references('jobs.id').onDelete('cascade'))
    .addColumn('builder', 'text', (c) => c.notNull())
    .addColumn('builder_options', 'jsonb', (c) => c.notNull())
    .addColumn('source', 'jsonb', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('toolchain', 'jsonb')
    .addColumn('cargo_lock_digest', 'text')
    .addColumn('log', 'text')
    .addColumn('log_digest', 'text')
    .addColumn('log_bytes', 'bigint')
    .addColumn('log_truncated', 'boolean')
    .addColumn('wasm_digest', 'text')
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addColumn('caller', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('builds_created_at_idx').on('builds').columns(['created_at', 'job_id']).execute();

  await db.schema
    .createTable('attestations')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('job_id', 'uuid', (c) => c.references('jobs.id').onDelete('set null'))
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('manifest_digest', 'text', (c) => c.notNull())
    .addColumn('predicate_type', 'text', (c) => c.notNull())
    .addColumn('statement_digest', 'text', (c) => c.notNull())
    .addColumn('rekor_log_index', 'bigint', (c) => c.notNull())
    .addColumn('rekor_entry_uuid', 'text')
    .addColumn('rekor_integrated_time', 'timestamptz', (c) => c.notNull())
    .addColumn('identity', 'text', (c) => c.notNull())
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('bundle', 'jsonb', (c) => c.notNull())
    .addColumn('caller', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // One attestation of each type per job: a re-run attest step finds the one it made.
  await db.schema.createIndex('attestations_job_type_idx').on('attestations').columns(['job_id', 'predicate_type']).unique().execute();
  await db.schema.createIndex('attestations_manifest_idx').on('attestations').columns(['manifest_digest']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('attestations').execute();
  await db.schema.dropTable('builds').execute();
  await db.schema.dropTable('build_source_chunks').execute();
  await db.schema.dropTable('build_sources').execute();
}
