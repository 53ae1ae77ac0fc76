import { type Kysely, sql } from 'kysely';

/**
 * Webhook subscriptions count their failed deliveries in a row (a subscription is disabled when the count
 * reaches WEBHOOK_DISABLE_AFTER_FAILURES; re-enabling resets it), and deliveries are paged newest first
 * by (created_at, id) per subscription.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('webhooks')
    .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`create index webhook_deliveries_page_idx on webhook_deliveries (webhook_id, created_at desc, id collate "C" desc)`.execute(db);
  await db.schema.dropIndex('webhook_deliveries_webhook_idx').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('webhook_deliveries_webhook_idx').on('webhook_deliveries').columns(['webhook_id', 'created_at']).execute();
  await db.schema.dropIndex('webhook_deliveries_page_idx').execute();
  await db.schema.alterTable('webhooks').dropColumn('consecutive_failures').execute();
}
