import { type Kysely, sql } from 'kysely';

/**
 * Webhook subscription secrets are sealed at rest (common/secret-box.ts: `v1.<keyId>.<iv>.<ciphertext>`,
 * AES-256-GCM under SECRET_ENCRYPTION_KEYS). The column is renamed to say what it holds, so a process of an
 * earlier version fails on it loudly instead of signing with a ciphertext as if it were the secret.
 * Rows from before hold the plain `whsec_…` secret until a process that has a key seals them on start
 * (webhooks/webhook-secrets-at-start.ts); the check admits nothing else.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('webhooks').renameColumn('secret', 'sealed_secret').execute();
  await db.schema
    .alterTable('webhooks')
    .addCheckConstraint('webhooks_sealed_secret_check', sql`sealed_secret ~ '^(v[0-9]+\\.|whsec_)'`)
    .execute();
}

/** Back to the plain column; sealed values stay sealed (an earlier version cannot use them: rotate those secrets). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('webhooks').dropConstraint('webhooks_sealed_secret_check').execute();
  await db.schema.alterTable('webhooks').renameColumn('sealed_secret', 'secret').execute();
}
