/** `npm run migrate`: applies pending migrations to the configured database and exits. */
import { loadConfig } from '../config/config.schema';
import { ConfigError } from '../config/config-error';
import { migrateToLatest, openDatabase } from '../database/database-connection';

async function main(): Promise<void> {
  const config = loadConfig();
  const db = await openDatabase(config.database);
  try {
    const applied = await migrateToLatest(db);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
  } finally {
    await db.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : `migration failed: ${(error as Error).message}`}\n`);
  process.exit(1);
});
