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
/** The bootstrap admin key of services under benchmark (never used outside them). */
export const BENCH_ADMIN_KEY = 'bench-bootstrap-admin-key-0123456789abcdef';

export function serviceEnvironment(env: BenchEnvironment, storage: ServiceStorage, queuePrefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...env.stackEnv,
    REDIS_URL: env.redisUrl,
    DATABASE_URL: storage.database.url,
    DATA_DIR: storage.dataDir,
    QUEUE_PREFIX: queuePrefix,
    // Authentication on, as in production: the load generator uses an API key made with this admin key.
    BOOTSTRAP_ADMIN_API_KEY: BENCH_ADMIN_KEY,
    // Rate limits counted (in Redis) on every request, but high enough never to refuse the load.
    RATE_LIMIT_UPLOADS_PER_MINUTE: '1000000',
    RATE_LIMIT_SIGNATURES_PER_MINUTE: '1000000',
    RATE_LIMIT_VERIFICATIONS_PER_MINUTE: '1000000',
    MAX_CONCURRENT_UPLOADS_PER_CALLER: '10000',
    ...extra,
    ...serviceOverrides(),
  };
}
