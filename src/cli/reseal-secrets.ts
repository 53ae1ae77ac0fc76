/**
 * `npm run secrets:reseal`: seals every secret kept in the database under the current key (the first of
 * SECRET_ENCRYPTION_KEYS): those still in plain text and those sealed under older keys. Then says how
 * each column's secrets are kept. Run it after making a new key current and before removing an older
 * one; an older key can go once no secret is sealed under it. Exits 1 while some secret cannot be opened
 * (sealed under a key no longer listed, or altered: it is left as it is), 78 on a configuration problem.
 * Applies pending migrations first, as the service does on start. With the embedded database (no
 * DATABASE_URL), stop the service first: the database serves one process at a time.
 */
import { ConfigError } from '../config/config-error';
import { loadConfig } from '../config/config.schema';
import { migrateToLatest, openDatabase } from '../database/database-connection';
import { type SealedSecretColumn, sealedSecretCounts, sealSecretColumn } from '../database/sealed-secret-columns';
import { WEBHOOK_SECRET_COLUMN } from '../webhooks/webhook-secret';

/** Every column of sealed secrets. */
const SEALED_SECRET_COLUMNS: readonly SealedSecretColumn[] = [WEBHOOK_SECRET_COLUMN];
/** Unreadable rows listed by id, at most. */
const LISTED = 20;

async function main(): Promise<number> {
  const config = loadConfig();
  const box = config.secretBox;
  if (!box) throw new ConfigError([{ variable: 'SECRET_ENCRYPTION_KEYS', message: 'is not set: it names the key to seal with (the first one)' }]);
  const db = await openDatabase(config.database);
  let unreadable = 0;
  try {
    await migrateToLatest(db);
    for (const column of SEALED_SECRET_COLUMNS) {
      const outcome = await sealSecretColumn(db, box, column, { reseal: true });
      const { plainText, byKey } = await sealedSecretCounts(db, column);
      const now = [...Object.entries(byKey).map(([keyId, n]) => `${n} under ${keyId}`), ...(plainText > 0 ? [`${plainText} in plain text`] : [])];
      process.stdout.write(
        `${column.table}.${column.column}: sealed ${outcome.sealed} from plain text and re-sealed ${outcome.resealed} under ${box.currentKeyId}; now ${now.join(', ') || 'none stored'}\n`,
      );
      for (const row of outcome.unreadable.slice(0, LISTED)) process.stdout.write(`  cannot open row ${row.id}: ${row.code}\n`);
      if (outcome.unreadable.length > LISTED) process.stdout.write(`  … and ${outcome.unreadable.length - LISTED} more\n`);
      unreadable += outcome.unreadable.length;
    }
  } finally {
    await db.destroy();
  }
  if (unreadable > 0) {
    process.stderr.write(
      `${unreadable} secrets cannot be opened with SECRET_ENCRYPTION_KEYS (${box.keyIds.join(', ')}) and were left as they are: list the key that sealed them again, or rotate those secrets\n`,
    );
  }
  return unreadable > 0 ? 1 : 0;
}

main().then(
  (status) => process.exit(status),
  (error: unknown) => {
    process.stderr.write(`${error instanceof ConfigError ? error.message : `re-sealing failed: ${(error as Error).message}`}\n`);
    process.exit(error instanceof ConfigError ? 78 : 1);
  },
);
