/**
 * What every benchmark runs against, started once per `npm run bench`: Redis (reused when it answers),
 * PostgreSQL (must be running), and a private local supply-chain stack — Fulcio, Rekor, TSA, OIDC issuer
 * and a `docker-registry` — on free loopback ports in a temporary directory, so that a benchmark neither
 * disturbs nor is disturbed by the shared stack other runs use. Everything started is stopped and
 * removed by the cleanup.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureLocalRedis } from '../../dev/local-redis';
import { checkPostgres } from '../../dev/scratch-database';
import { ensureLocalStack } from '../../dev/stack/ensure-local-stack';
import { freePort } from '../../test/support/service-process';
import type { Cleanup } from './cleanup';
import { processesNamed, processesWithEnvironment } from './proc';

export const REPO_ROOT = resolve(__dirname, '../..');
const BUILD_DIR = join(REPO_ROOT, 'dist');

export interface BenchEnvironment {
  /** main.js of the copy of the build the service runs from. */
  serviceMain: string;
  redisUrl: string;
  /** PostgreSQL server URL; each benchmark creates (and drops) a database of its own on it. */
  postgresServerUrl: string;
  /** The environment pointing the service at the private stack (SIGSTORE_*, IDENTITY_*, REGISTRY_INSECURE_HOSTS, LOCAL_REGISTRY). */
  stackEnv: Record<string, string>;
  /** host:port of the private registry. */
  registryHost: string;
  /** The private registry's log (one line per request). */
  registryLog: string;
  /** Processes for CPU accounting: the stack (one, or two under tsx), its registry, and Redis (shared with whoever else uses it). */
  pids: { stack: number[]; registry?: number; redis: number[] };
}

export async function startEnvironment(cleanup: Cleanup, log: (message: string) => void): Promise<BenchEnvironment> {
  const serviceMain = snapshotBuild(cleanup, log);

  const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = await ensureLocalRedis(redisUrl, log);
  if (redis.started) cleanup.defer('stop redis-server', () => redis.stop());

  const postgresServerUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  await checkPostgres(postgresServerUrl, 'Start it or set BENCH_DATABASE_URL.');

  const stackDir = mkdtempSync(join(tmpdir(), 'wasm-signer-bench-stack-'));
  cleanup.defer(`remove ${stackDir}`, async () => rmSync(stackDir, { recursive: true, force: true }));
  const [oidc, fulcio, rekor, tsa, registry] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  log(`starting a private local stack in ${stackDir}`);
  const stack = await ensureLocalStack({
    repoRoot: REPO_ROOT,
    log,
    env: {
      STACK_DIR: stackDir,
      STACK_OIDC_PORT: String(oidc),
      STACK_FULCIO_PORT: String(fulcio),
      STACK_REKOR_PORT: String(rekor),
      STACK_TSA_PORT: String(tsa),
      STACK_REGISTRY_PORT: String(registry),
      STACK_REGISTRY: 'on',
    },
  });
  cleanup.defer('stop the private local stack', () => stack.stop());
  if (!stack.started) throw new Error(`a stack already answered on the free ports chosen for the private stack (${fulcio}, …); run again`);
  const registryHost = stack.env.LOCAL_REGISTRY;
  if (!registryHost || !(await registryAnswers(registryHost))) {
    throw new Error("the private stack has no OCI registry: install Debian's docker-registry (apt-get install docker-registry)");
  }

  const processes = processesWithEnvironment('STACK_DIR', stackDir);
  return {
    serviceMain,
    redisUrl,
    postgresServerUrl,
    stackEnv: stack.env,
    registryHost,
    registryLog: join(stackDir, 'stack', 'registry', 'registry.log'),
    pids: {
      registry: processes.find((p) => p.comm === 'docker-registry')?.pid,
      stack: processes.filter((p) => p.comm !== 'docker-registry').map((p) => p.pid),
      redis: processesNamed('redis-server'),
    },
  };
}

/**
 * The benchmarks run the built service. It runs from a copy of dist/ taken now (with node_modules linked
 * beside it), so that a rebuild in the shared working tree during the run (npm test builds first) cannot
 * pull files from under it; a warning says when the build is older than the sources.
 */
function snapshotBuild(cleanup: Cleanup, log: (message: string) => void): string {
  const main = join(BUILD_DIR, 'src/main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build the service first (scripts/with-node.sh npx nest build)`);
  const newest = newestSource(join(REPO_ROOT, 'src'));
  if (newest.mtime > statSync(main).mtimeMs) {
    log(`warning: ${newest.path} is newer than the build; the benchmark measures dist/ (rebuild with scripts/with-node.sh npx nest build)`);
  }
  const root = mkdtempSync(join(tmpdir(), 'wasm-signer-bench-service-'));
  cleanup.defer(`remove ${root}`, async () => rmSync(root, { recursive: true, force: true }));
  cpSync(BUILD_DIR, join(root, 'dist'), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  const copy = join(root, 'dist/src/main.js');
  if (!existsSync(copy)) throw new Error(`dist/ changed while it was copied (a build running?); run again`);
  return copy;
}

function newestSource(dir: string): { path: string; mtime: number } {
  let newest = { path: dir, mtime: 0 };
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const candidate = entry.isDirectory() ? newestSource(path) : entry.name.endsWith('.ts') ? { path, mtime: statSync(path).mtimeMs } : newest;
    if (candidate.mtime > newest.mtime) newest = candidate;
  }
  return newest;
}

async function registryAnswers(host: string): Promise<boolean> {
  try {
    const response = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}
