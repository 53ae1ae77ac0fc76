import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { Client } from 'pg';
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
  const started: Array<() => Promise<void>> = [];
  (globalThis as { __testTeardown?: Array<() => Promise<void>> }).__testTeardown = started;

  const log = (message: string) => process.stderr.write(`[e2e setup] ${message}\n`);

  if (!(await listening(redisUrl))) {
    const redis = startRedis(redisUrl, log);
    started.push(async () => stopChild(redis));
    await waitFor(() => listening(redisUrl), 10_000, `Redis did not start at ${redisUrl}`);
  }

  await checkPostgres(postgresServerUrl);

  const stack = await ensureLocalStack({ repoRoot: REPO_ROOT, log });
  if (stack.started) started.push(() => stack.stop());

  const environment: TestEnvironment = { redisUrl, postgresServerUrl, stackEnv: stack.env };
  mkdirSync(dirname(TEST_ENVIRONMENT_FILE), { recursive: true });
  writeFileSync(TEST_ENVIRONMENT_FILE, JSON.stringify(environment, null, 2));
}

function startRedis(redisUrl: string, log: (message: string) => void): ChildProcess {
  const url = new URL(redisUrl);
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error(`Redis is not running at ${redisUrl} and redis-server is not installed (Debian: apt-get install redis-server).`);
  }
  log(`starting redis-server on ${url.hostname}:${url.port || 6379}`);
  return spawn('redis-server', ['--bind', url.hostname, '--port', url.port || '6379', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
}

async function checkPostgres(url: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${url} (${(error as Error).message}). Start it (Debian: pg_ctlcluster <version> main start) or set TEST_DATABASE_URL.`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function listening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 6379) });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(message);
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
