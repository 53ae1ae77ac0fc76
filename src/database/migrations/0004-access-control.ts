import { type Kysely, sql } from 'kysely';

/**
 * Access control: API keys (stored as SHA-256 hashes of the key, never the key), the owner of each
 * webhook subscription, and the identity of the caller on whose behalf each signature was made.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (c) => c.notNull())
    // SHA-256 (hex) of the whole key: a key holds 256 random bits, so no slow hash is needed.
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    // The first characters of the key (`wsk_Ab12`), so a person can tell keys apart in lists and logs.
    .addColumn('key_hint', 'text', (c) => c.notNull())
    .addColumn('scopes', 'jsonb', (c) => c.notNull())
    .addColumn('repositories', 'jsonb', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revoked_by', 'text')
    .execute();
  await db.schema.createIndex('api_keys_created_at_idx').on('api_keys').columns(['created_at', 'id']).execute();

  // Subscriptions made before access control keep receiving every caller's events; a new one receives
  // only its owner's, unless an admin made it.
  await db.schema.alterTable('webhooks').addColumn('owner', 'text').execute();
  await db.schema
    .alterTable('webhooks')
    .addColumn('receives_all_callers', 'boolean', (c) => c.notNull().defaultTo(true))
    .execute();
  await db.schema.alterTable('signatures').addColumn('requested_by', 'jsonb').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('signatures').dropColumn('requested_by').execute();
  await db.schema.alterTable('webhooks').dropColumn('receives_all_callers').execute();
  await db.schema.alterTable('webhooks').dropColumn('owner').execute();
  await db.schema.dropTable('api_keys').execute();
}
