import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScratchDatabase } from '../../dev/scratch-database';
import type { Cleanup } from './cleanup';
import { BenchDatabase } from './database';
import type { BenchEnvironment } from './environment';
import { serviceOverrides } from './settings';

/** What a benchmark's service keeps: its own database and data directory, removed at cleanup. */
export interface ServiceStorage {
  database: ScratchDatabase;
  dataDir: string;
}

export async function serviceStorage(cleanup: Cleanup, env: BenchEnvironment, label: string): Promise<ServiceStorage> {
  const database = await BenchDatabase.create(env.postgresServerUrl, label);
  cleanup.defer(`drop database ${database.name}`, () => database.drop());
  const dataDir = mkdtempSync(join(tmpdir(), 'wasm-signer-bench-data-'));
  cleanup.defer(`remove ${dataDir}`, async () => rmSync(dataDir, { recursive: true, force: true }));
  return { database, dataDir };
}

/** The service's environment: the local stack, Redis, its storage, its own queues, then the settings. */
export function serviceEnvironment(env: BenchEnvironment, storage: ServiceStorage, queuePrefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...env.stackEnv,
    REDIS_URL: env.redisUrl,
    DATABASE_URL: storage.database.url,
    DATA_DIR: storage.dataDir,
    QUEUE_PREFIX: queuePrefix,
    ...extra,
    ...serviceOverrides(),
  };
}
