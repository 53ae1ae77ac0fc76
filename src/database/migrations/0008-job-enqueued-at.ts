import { type Kysely, sql } from 'kysely';

/**
 * When each job's pipeline was added to the queues. A job is recorded first and enqueued second; a
 * process that dies in between leaves `enqueued_at` null, and the sweeper (src/pipeline) enqueues it.
 *
 * Jobs already past `queued` were enqueued (a worker ran them): they get their start or creation time.
 * Jobs still `queued` are left null, so the sweeper looks at each once: re-adding a pipeline already in
 * the queues is a no-op (its queue job IDs are derived from the job), and one that was lost is added.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('enqueued_at', 'timestamptz').execute();
  await sql`update jobs set enqueued_at = coalesce(started_at, created_at) where state <> 'queued'`.execute(db);
  // The sweeper's question, answered from a small index: queued jobs never enqueued, oldest first.
  await sql`create index jobs_unqueued_idx on jobs (created_at) where state = 'queued' and enqueued_at is null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists jobs_unqueued_idx`.execute(db);
  await db.schema.alterTable('jobs').dropColumn('enqueued_at').execute();
}
