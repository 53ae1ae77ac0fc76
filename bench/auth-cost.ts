/**
 * auth-cost: the service's CPU per request spent on authentication — an API key (looked up by its hash
 * in the database on every request) and a CI/workload OIDC token (the rules file's status checked, the
 * token verified with the issuer's keys, already fetched) — measured over HTTP against a cheap /v1 route,
 * against the bootstrap admin key in the same run (a constant-time compare with a configured value: the
 * request's cost without authentication work).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Benchmark, BenchContext } from './support/benchmark';
import { runPool } from './support/pool';
import { type ProcessSet, cpuSnapshot, cpuUsage, processCpuSeconds } from './support/proc';
import { heading, noiseWarning, note, printTable, verdict } from './support/report';
import { ServiceUnderTest } from './support/service';
import { BENCH_ADMIN_KEY, serviceEnvironment, serviceStorage } from './support/service-storage';
import { integerSetting } from './support/settings';
import { fixed, percentile } from './support/stats';

/** Target: authentication costs at most this much service CPU per request, over the bootstrap key's. */
const TARGET_AUTH_CPU_US = 1_000;

/** Authenticated, then 404 at once (not a job id: no database query): little besides authentication. */
const ROUTE = '/v1/jobs/bench-auth-cost';
const ROUTE_STATUS = 404;

interface Settings {
  requests: number;
  rounds: number;
  concurrency: number;
  warmup: number;
}

type Variant = 'bootstrap key' | 'API key' | 'OIDC token';
const VARIANTS: readonly Variant[] = ['bootstrap key', 'API key', 'OIDC token'];

interface Pass {
  variant: Variant;
  /** Service CPU per request, µs. */
  cpuUs: number;
  /** CPU per request of the PostgreSQL backends serving the run's database, µs. */
  databaseUs: number;
  rate: number;
  latenciesMs: number[];
  otherCores: number;
}

export const authCost: Benchmark = {
  name: 'auth-cost',
  summary: 'service CPU µs per request to authenticate an API key and an OIDC token (warm JWKS), vs. the bootstrap key',
  configure() {
    const settings: Settings = {
      requests: integerSetting('BENCH_AUTH_REQUESTS', 5_000, 100, 10_000_000),
      rounds: integerSetting('BENCH_AUTH_ROUNDS', 3, 1, 100),
      concurrency: integerSetting('BENCH_AUTH_CONCURRENCY', 8, 1, 1_000),
      warmup: integerSetting('BENCH_AUTH_WARMUP', 500, 0, 1_000_000),
    };
    return (context) => run(context, settings);
  },
};

async function run(context: BenchContext, settings: Settings): Promise<void> {
  const { environment: env, cleanup, log } = context;
  const issuer = env.stackEnv.LOCAL_OIDC_ISSUER_URL;
  if (!issuer) throw new Error('the private stack announced no OIDC issuer (LOCAL_OIDC_ISSUER_URL)');
  const runId = randomUUID().slice(0, 8);

  // One rule for the stack's issuer: tokens of the repository bench/auth-cost may read records.
  const rulesDir = mkdtempSync(join(tmpdir(), 'wasm-signer-bench-auth-'));
  cleanup.defer(`remove ${rulesDir}`, async () => rmSync(rulesDir, { recursive: true, force: true }));
  const rulesFile = join(rulesDir, 'trusted-publishers.json');
  writeFileSync(
    rulesFile,
    JSON.stringify({
      rules: [{ name: 'bench', issuer, claims: { repository: 'bench/auth-cost' }, scopes: ['records:read'], repositories: [`${env.registryHost}/bench/**`] }],
    }),
  );
  const storage = await serviceStorage(cleanup, env, 'auth');
  const service = await ServiceUnderTest.start({
    main: env.serviceMain,
    env: serviceEnvironment(env, storage, `bench-${runId}`, { TRUSTED_PUBLISHERS_FILE: rulesFile }),
  });
  cleanup.defer('stop the service', async () => void (await service.stop()));

  // The API key every benchmark's load generator uses, made by the service's start through the API.
  const apiKey = /^Bearer (\S+)$/.exec(service.authorization.authorization ?? '')?.[1];
  if (!apiKey) throw new Error('the service under benchmark made no API key');
  const token = await mintToken(issuer);
  const credentials: Record<Variant, string> = { 'bootstrap key': BENCH_ADMIN_KEY, 'API key': apiKey, 'OIDC token': token };

  const client = new Agent({ keepAlive: true, maxSockets: settings.concurrency, maxFreeSockets: settings.concurrency });
  cleanup.defer('close the client connections', async () => client.destroy());
  const get = (credential: string) => timedGet(client, service.url(ROUTE), credential);

  // Warm-up: code paths compiled, connections open, the OIDC issuer's discovery document and JWKS fetched.
  for (const variant of VARIANTS) {
    const status = (await get(credentials[variant])).status;
    if (status !== ROUTE_STATUS) throw new Error(`${variant}: expected ${ROUTE_STATUS} from GET ${ROUTE}, got ${status}`);
    await runPool(settings.warmup, settings.concurrency, () => get(credentials[variant]));
  }

  const DATABASE = "PostgreSQL (backends of the run's database)";
  const processes: ProcessSet = { service: service.pid, [DATABASE]: () => storage.database.backendPids(), 'bench process (load generator)': process.pid };
  const passes: Pass[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    // Each round in another order, so that no variant always follows the same one.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
    for (const variant of order) {
      log(`round ${round + 1}/${settings.rounds}: ${settings.requests} requests with the ${variant} (concurrency ${settings.concurrency})`);
      const before = await cpuSnapshot(processes);
      const serviceBefore = processCpuSeconds(service.pid)!;
      const started = performance.now();
      const latenciesMs = await runPool(settings.requests, settings.concurrency, async () => {
        const answer = await get(credentials[variant]);
        if (answer.status !== ROUTE_STATUS) throw new Error(`${variant}: GET ${ROUTE} answered ${answer.status}`);
        return answer.ms;
      });
      const wallMs = performance.now() - started;
      const serviceSeconds = processCpuSeconds(service.pid)! - serviceBefore;
      const usage = cpuUsage(before, await cpuSnapshot(processes));
      passes.push({
        variant,
        cpuUs: (serviceSeconds * 1e6) / settings.requests,
        databaseUs: ((usage.rows.find((row) => row.label === DATABASE)?.seconds ?? 0) * 1e6) / settings.requests,
        rate: settings.requests / (wallMs / 1000),
        latenciesMs,
        otherCores: usage.otherCores,
      });
    }
  }

  const median = (values: number[]) => percentile(values, 50);
  const of = (variant: Variant) => passes.filter((p) => p.variant === variant);
  const cpu = (variant: Variant) => median(of(variant).map((p) => p.cpuUs));
  const baseline = cpu('bootstrap key');

  heading(`service CPU per request, GET ${ROUTE} (${ROUTE_STATUS}); median of ${settings.rounds} rounds of ${settings.requests} requests`);
  printTable(
    ['credential', 'CPU µs/request', 'auth CPU µs/request', 'database CPU µs/request', 'requests/s', 'p50 ms', 'p99 ms', 'CPU µs per round'],
    VARIANTS.map((variant) => [
      variant,
      fixed(cpu(variant), 0),
      variant === 'bootstrap key' ? '(baseline)' : fixed(cpu(variant) - baseline, 0),
      fixed(median(of(variant).map((p) => p.databaseUs)), 0),
      fixed(median(of(variant).map((p) => p.rate)), 0),
      fixed(
        percentile(
          of(variant).flatMap((p) => p.latenciesMs),
          50,
        ),
        2,
      ),
      fixed(
        percentile(
          of(variant).flatMap((p) => p.latenciesMs),
          99,
        ),
        2,
      ),
      of(variant)
        .map((p) => fixed(p.cpuUs, 0))
        .join(' '),
    ]),
  );
  process.stdout.write('\n');
  note("auth CPU: the CPU per request beyond the bootstrap key's (same route, same answer), i.e. what authenticating the credential costs.");
  note("API key: SHA-256 and a database lookup per request (the PostgreSQL backend's own CPU is in its own column, not in the target);");
  note('OIDC token: one stat of the rules file, the token read and its ES256 signature and claims verified with the cached JWKS.');
  noiseWarning([{ label: 'busiest measured pass', otherCores: Math.max(...passes.map((p) => p.otherCores)) }]);

  heading('verdicts');
  for (const variant of ['OIDC token', 'API key'] as const) {
    const cost = cpu(variant) - baseline;
    verdict(`${variant} authentication ≤ ${TARGET_AUTH_CPU_US} µs service CPU per request`, cost <= TARGET_AUTH_CPU_US, atMost(cost, TARGET_AUTH_CPU_US, 'µs'));
  }
}

/** A figure against a ceiling: "met" or how far over, in percent. */
function atMost(value: number, limit: number, unit: string): string {
  if (value <= limit) return `${fixed(value, 0)} ${unit} ≤ ${limit}`;
  return `${fixed(value, 0)} ${unit}, ${fixed((value / limit - 1) * 100, 0)}% over ${limit}`;
}

/** A token from the private stack's OIDC issuer, as a CI job of bench/auth-cost would hold it. */
async function mintToken(issuer: string): Promise<string> {
  const response = await fetch(`${issuer}/mint`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ aud: 'wasm-signer', sub: 'repo:bench/auth-cost:ref:refs/heads/main', expiresIn: 3_600, claims: { repository: 'bench/auth-cost' } }),
  });
  if (response.status !== 200) throw new Error(`the stack's POST /mint answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

/** One GET over a kept-alive connection, its answer read whole; the load generator spends little per request. */
function timedGet(agent: Agent, url: string, credential: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { authorization: `Bearer ${credential}`, accept: 'application/json' }, signal: AbortSignal.timeout(30_000) }, (response) => {
      response.resume();
      response.once('error', reject);
      response.once('end', () => resolve({ status: response.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.once('error', reject);
    req.end();
  });
}
