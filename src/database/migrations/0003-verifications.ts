import { type Kysely, sql } from 'kysely';

/**
 * Every artifact verification (POST /v1/verifications, at once or as a verify job, and the verify step of
 * publish and sign jobs): what was asked, with which trust root, and the verdict. Deliveries of
 * verification events of synchronous verifications point at their record.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('verifications')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    // The reference as the caller gave it (tag or digest); repository and digest are what was verified.
    .addColumn('reference', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    // The policy as the caller wrote it (it holds no secret).
    .addColumn('policy', 'jsonb', (c) => c.notNull())
    .addColumn('trust_root', 'text', (c) => c.notNull())
    .addColumn('verified', 'boolean', (c) => c.notNull())
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    // One verdict per signature found: format, where, verified, identity, issuer, log index, error.
    .addColumn('signatures', 'jsonb', (c) => c.notNull())
    .addColumn('job_id', 'uuid', (c) => c.references('jobs.id').onDelete('set null'))
    .addColumn('caller', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // A job has one verify step, so one record: a step run again after a crash replaces it.
  await sql`create unique index verifications_job_idx on verifications (job_id) where job_id is not null`.execute(db);
  await db.schema.createIndex('verifications_digest_idx').on('verifications').columns(['digest', 'created_at', 'id']).execute();
  await db.schema.createIndex('verifications_created_at_idx').on('verifications').columns(['created_at', 'id']).execute();

  await db.schema
    .alterTable('webhook_deliveries')
    .addColumn('verification_id', 'uuid', (c) => c.references('verifications.id').onDelete('set null'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('webhook_deliveries').dropColumn('verification_id').execute();
  await db.schema.dropTable('verifications').execute();
}
