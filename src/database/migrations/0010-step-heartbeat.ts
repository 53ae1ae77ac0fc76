import type { Kysely } from 'kysely';

/**
 * When a worker last said it is still running the job's current step. A worker writes it every third
 * of ENQUEUE_SWEEP_GRACE_MS while a step runs, so a job whose queue entries Redis lost is told apart from
 * one whose step is simply long (a build): the sweeper re-enqueues only jobs nobody has touched, or said
 * they were running, for the whole grace period.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('step_heartbeat_at', 'timestamptz').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').dropColumn('step_heartbeat_at').execute();
}
