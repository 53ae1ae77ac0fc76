import { randomUUID } from 'node:crypto';
import { type Kysely, Migrator } from 'kysely';
import { SecretBox, sealedSecretKeyId } from '../../src/common/secret-box';
import { migrateToLatest, openDatabase } from '../../src/database/database-connection';
import type { Database } from '../../src/database/database.types';
import { migrationProvider } from '../../src/database/migrations';
import { sealedSecretCounts, sealSecretColumn } from '../../src/database/sealed-secret-columns';
import { newWebhookSecret, openWebhookSecret, sealWebhookSecret, WEBHOOK_SECRET_COLUMN } from '../../src/webhooks/webhook-secret';
import { TestDatabase } from '../support/test-database';
import { testEnvironment } from '../support/test-environment';

/**
 * Migration 0005 and the sealing of a whole column, on PostgreSQL: rows stored in plain text before the
 * migration keep their secret and get sealed; rows under an older key are re-sealed under the current
 * one; rows under a key no longer configured are left alone and reported.
 */
describe('sealed webhook secrets in PostgreSQL', () => {
  const k1 = new SecretBox([{ id: 'k1', key: Buffer.alloc(32, 1) }]);
  const k2 = new SecretBox([
    { id: 'k2', key: Buffer.alloc(32, 2) },
    { id: 'k1', key: Buffer.alloc(32, 1) },
  ]);
  const gone = new SecretBox([{ id: 'gone', key: Buffer.alloc(32, 3) }]);
  let scratch: TestDatabase;
  let db: Kysely<Database>;
  /** Plain-text secrets of rows written before migration 0005, by id. */
  const before = new Map<string, string>();

  beforeAll(async () => {
    scratch = await TestDatabase.create(testEnvironment().postgresServerUrl, 'wasm_signer_int');
    db = await openDatabase({ kind: 'postgres', url: scratch.url, poolSize: 4 });
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateTo('0003-verifications');
    if (error) throw error;
    // More rows than one batch, so that sealing pages through them.
    for (let i = 0; i < 450; i++) before.set(randomUUID(), newWebhookSecret());
    await scratch.query(
      `insert into webhooks (id, url, events, secret) select id, 'https://example.com/hook', '["job.succeeded"]', secret from unnest($1::uuid[], $2::text[]) as t(id, secret)`,
      [[...before.keys()], [...before.values()]],
    );
    expect(await migrateToLatest(db)).toContain('0005-sealed-webhook-secrets');
  });

  afterAll(async () => {
    await db?.destroy();
    await scratch?.drop();
  });

  const rows = () => scratch.query<{ id: string; sealed_secret: string }>('select id::text, sealed_secret from webhooks order by id');
  const insert = async (sealedSecret: (id: string) => string) => {
    const id = randomUUID();
    await scratch.query(`insert into webhooks (id, url, events, sealed_secret) values ($1, 'https://example.com/hook', '["job.succeeded"]', $2)`, [id, sealedSecret(id)]);
    return id;
  };

  it('keeps the secrets of earlier rows, in plain text until sealed, and admits nothing but sealed or whsec_ values', async () => {
    const stored = await rows();
    expect(stored).toHaveLength(450);
    for (const row of stored) expect(row.sealed_secret).toBe(before.get(row.id));
    expect(await sealedSecretCounts(db, WEBHOOK_SECRET_COLUMN)).toEqual({ plainText: 450, byKey: {} });
    await expect(insert(() => 'hunter2')).rejects.toThrow(/webhooks_sealed_secret_check/);
  });

  it('seals rows in plain text under the current key, and leaves rows sealed under other keys to re-sealing', async () => {
    const underK1 = await insert((id) => sealWebhookSecret(k1, id, 'whsec_k1'));
    const underGone = await insert((id) => sealWebhookSecret(gone, id, 'whsec_gone'));
    // Two processes starting at once: each row is sealed once, by one of them.
    const [a, b] = await Promise.all([sealSecretColumn(db, k2, WEBHOOK_SECRET_COLUMN, { reseal: false }), sealSecretColumn(db, k2, WEBHOOK_SECRET_COLUMN, { reseal: false })]);
    expect(a.sealed + b.sealed).toBe(450);
    expect([a.resealed, b.resealed, a.unreadable, b.unreadable]).toEqual([0, 0, [], []]);
    expect(await sealedSecretCounts(db, WEBHOOK_SECRET_COLUMN)).toEqual({ plainText: 0, byKey: { k1: 1, k2: 450, gone: 1 } });

    const stored = await rows();
    for (const row of stored.filter((r) => before.has(r.id))) {
      expect(sealedSecretKeyId(row.sealed_secret)).toBe('k2');
      expect(row.sealed_secret).not.toContain(before.get(row.id)!.slice(6));
      expect(openWebhookSecret(k2, row)).toBe(before.get(row.id));
    }
    expect(
      openWebhookSecret(
        k2,
        stored.find((r) => r.id === underK1)!,
      ),
    ).toBe('whsec_k1');
    expect(stored.find((r) => r.id === underGone)!.sealed_secret).toMatch(/^v1\.gone\./);
  });

  it('re-seals under the current key every row it can open, and reports the others', async () => {
    const underGone = (await rows()).find((r) => sealedSecretKeyId(r.sealed_secret) === 'gone')!;
    const outcome = await sealSecretColumn(db, k2, WEBHOOK_SECRET_COLUMN, { reseal: true });
    expect(outcome).toEqual({ sealed: 0, resealed: 1, unreadable: [{ id: underGone.id, code: 'SECRET_ENCRYPTION_KEY_UNKNOWN' }] });
    expect(await sealedSecretCounts(db, WEBHOOK_SECRET_COLUMN)).toEqual({ plainText: 0, byKey: { k2: 451, gone: 1 } });
    // k1 can go now: every row but the unreadable one opens with k2 alone.
    const k2Only = new SecretBox([{ id: 'k2', key: Buffer.alloc(32, 2) }]);
    for (const row of (await rows()).filter((r) => r.id !== underGone.id)) expect(openWebhookSecret(k2Only, row)).toMatch(/^whsec_/);
    // Nothing left to do: a second run changes nothing.
    expect(await sealSecretColumn(db, k2, WEBHOOK_SECRET_COLUMN, { reseal: true })).toEqual({
      sealed: 0,
      resealed: 0,
      unreadable: [{ id: underGone.id, code: 'SECRET_ENCRYPTION_KEY_UNKNOWN' }],
    });
  });
});
