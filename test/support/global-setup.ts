import { hasTool } from './required-tool';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensureLocalRedis } from '../../dev/local-redis';
import { checkPostgres } from '../../dev/scratch-database';
import { ensureLocalStack } from '../../dev/stack/ensure-local-stack';
import { REPO_ROOT, TEST_ENVIRONMENT_FILE, type TestEnvironment } from './test-environment';

/**
 * Brings up what the end-to-end tests need and finds not running: Redis (when `redis-server` is
 * installed), the local Sigstore stack and the OCI registry. PostgreSQL must be running; the error says
 * so. What this starts, global teardown stops.
 */
export default async function globalSetup(): Promise<void> {
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const postgresServerUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  // Each project with this setup (integration, e2e) runs it; the second finds everything running, and
  // adds to the list the first made rather than replacing it (which would leave the first's to run on).
  const holder = globalThis as { __testTeardown?: Array<() => Promise<void>> };
  const started = (holder.__testTeardown ??= []);
  const log = (message: string) => process.stderr.write(`[e2e setup] ${message}\n`);

  const redis = await ensureLocalRedis(redisUrl, log);
  if (redis.started) started.push(() => redis.stop());

  await checkPostgres(postgresServerUrl, 'Start it (Debian: pg_ctlcluster <version> main start) or set TEST_DATABASE_URL.');

  const stack = await ensureLocalStack({ repoRoot: REPO_ROOT, log });
  if (stack.started) started.push(() => stack.stop());
  // The stack runs without a registry when docker-registry is not installed; the registry tests then
  // fail one by one. Under CI, say once and plainly which tool is missing.
  if (process.env.CI && !stack.env.LOCAL_REGISTRY) {
    throw new Error('docker-registry is required when CI is set, and the local stack has no registry (Debian: apt-get install docker-registry; .ci/run installs it)');
  }
  if (process.env.CI) hasTool('skopeo', ['--version']);

  // Every registry the tests use runs on loopback (the stack's, and the fakes some tests start), which the
  // service refuses to reach unless allowlisted; a stack started before the variable existed lacks it.
  const stackEnv = { ...stack.env, REGISTRY_PRIVATE_ALLOWLIST: '127.0.0.1,::1,localhost' };
  const environment: TestEnvironment = { redisUrl, postgresServerUrl, stackEnv };
  mkdirSync(dirname(TEST_ENVIRONMENT_FILE), { recursive: true });
  writeFileSync(TEST_ENVIRONMENT_FILE, JSON.stringify(environment, null, 2));
}
