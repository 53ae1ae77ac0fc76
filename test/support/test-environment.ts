import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** What global setup found or started, handed to the test files through a file in .local/. */
export interface TestEnvironment {
  redisUrl: string;
  /** Server URL (no database); each test file creates its own database on it. */
  postgresServerUrl: string;
  /** The environment that points the service at the local Sigstore stack and registry (which it allowlists: REGISTRY_PRIVATE_ALLOWLIST). */
  stackEnv: Record<string, string>;
}

export const REPO_ROOT = resolve(__dirname, '../..');
export const TEST_ENVIRONMENT_FILE = resolve(REPO_ROOT, '.local/test-environment.json');

export function testEnvironment(): TestEnvironment {
  return JSON.parse(readFileSync(TEST_ENVIRONMENT_FILE, 'utf8')) as TestEnvironment;
}

/**
 * The environment of a service under test: the local stack and registry (registries on loopback allowed
 * by REGISTRY_PRIVATE_ALLOWLIST), the test's own database, a data directory and a queue prefix of its own
 * (so test files never share jobs), then `extra`.
 */
export function testServiceEnv(databaseUrl: string, name: string, extra: Record<string, string> = {}): Record<string, string> {
  const environment = testEnvironment();
  return {
    ...environment.stackEnv,
    DATABASE_URL: databaseUrl,
    DATA_DIR: mkdtempSync(join(tmpdir(), `wasm-signer-${name}-`)),
    REDIS_URL: environment.redisUrl,
    QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
    ...extra,
  };
}
