import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** What global setup found or started, handed to the test files through a file in .local/. */
export interface TestEnvironment {
  redisUrl: string;
  /** Server URL (no database); each test file creates its own database on it. */
  postgresServerUrl: string;
  /** The environment that points the service at the local Sigstore stack and registry. */
  stackEnv: Record<string, string>;
}

export const REPO_ROOT = resolve(__dirname, '../..');
export const TEST_ENVIRONMENT_FILE = resolve(REPO_ROOT, '.local/test-environment.json');

export function testEnvironment(): TestEnvironment {
  return JSON.parse(readFileSync(TEST_ENVIRONMENT_FILE, 'utf8')) as TestEnvironment;
}
