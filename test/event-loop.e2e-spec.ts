import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedJob, type JobView } from './support/jobs';
import { ServiceProcess, sleep, tempDir } from './support/service-process';
import { REPO_ROOT, testEnvironment } from './support/test-environment';

interface Verification {
  verified: boolean;
  signatures: { verified: boolean; error: { code: string; message: string } | null }[];
  error: { code: string } | null;
}

/**
 * No input freezes the service: a caller's regular expression that backtracks catastrophically in a
 * backtracking engine (V8's: this one would run for longer than anyone waits) is matched in linear time,
 * and /health/live keeps answering while it and a burst of ordinary verifications run.
 */
describe('the event loop stays free', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const identity = env.stackEnv.LOCAL_CERTIFICATE_IDENTITY!;
  const issuer = env.stackEnv.LOCAL_OIDC_ISSUER_URL!;
  const repository = `${registryHost}/e2e/event-loop-${randomUUID().slice(0, 8)}`;
  let service: ServiceProcess;
  let reference: string;

  beforeAll(async () => {
    service = await ServiceProcess.start({ ...env.stackEnv, DATA_DIR: tempDir('event-loop'), REDIS_URL: env.redisUrl, QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}` });
    const response = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm')),
    });
    expect(response.status).toBe(202);
    const job = await finishedJob(service, ((await response.json()) as JobView).id);
    expect(job.state).toBe('succeeded');
    reference = `${repository}@${job.result!.manifestDigest}`;
  });

  afterAll(async () => {
    // SIGKILL: a service whose event loop is stuck does not shut down on SIGTERM.
    await service?.stop('SIGKILL');
  });

  // Every request of this test gives up after a while, so that a frozen service fails the test instead of hanging it.
  const verify = (policy: Record<string, unknown>) =>
    service.fetch('/v1/verifications', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reference, policy }),
      signal: AbortSignal.timeout(30_000),
    });

  it('answers /health/live within 200 ms while a pathological pattern and 20 verifications run', async () => {
    // Warm up: the trust root and the registry connections, so that what is timed is the verifications.
    expect((await (await verify({ certificateIdentity: identity, certificateOidcIssuer: issuer })).json()) as Verification).toMatchObject({ verified: true });

    let running = true;
    const latencies: number[] = [];
    const poller = (async () => {
      while (running) {
        const started = performance.now();
        const live = await service.fetch('/health/live', { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
        latencies.push(live?.ok ? performance.now() - started : Number.POSITIVE_INFINITY);
        await sleep(20);
      }
    })();

    const started = performance.now();
    const pathological = verify({ certificateIdentityRegExp: '([a-z/:.-]+)+!', certificateOidcIssuer: issuer }).then(async (response) => ({
      status: response.status,
      body: (await response.json()) as Verification,
      ms: performance.now() - started,
    }));
    const burst = Array.from({ length: 20 }, () => verify({ certificateIdentity: identity, certificateOidcIssuer: issuer }).then((r) => r.json() as Promise<Verification>));
    const [slow, ordinary] = await Promise.all([pathological, Promise.all(burst)]).finally(() => {
      running = false;
    });
    await poller;

    // The pattern cannot match (the identity has no "!"): every signature fails on the identity, quickly.
    expect(slow.status).toBe(200);
    expect(slow.body).toMatchObject({ verified: false, error: { code: 'NO_VERIFIED_SIGNATURE' } });
    expect(slow.body.signatures.length).toBeGreaterThan(0);
    for (const signature of slow.body.signatures) expect(signature.error?.code).toBe('POLICY_IDENTITY_MISMATCH');
    expect(slow.ms).toBeLessThan(10_000);
    expect(ordinary.every((result) => result.verified)).toBe(true);

    expect(latencies.length).toBeGreaterThan(0);
    expect(Math.max(...latencies)).toBeLessThan(200);
  });

  it('refuses a pattern the linear-time engine does not run with 422, naming the construct', async () => {
    const cases: [string, RegExp][] = [
      ['(a)\\1', /\\1.*backreferences/],
      ['(?=https).*', /\(\?=.*lookahead/],
      ['[a-z]++', /\+\+.*possessive/],
    ];
    for (const [pattern, named] of cases) {
      const response = await verify({ certificateIdentityRegExp: pattern, certificateOidcIssuer: issuer });
      expect(response.status).toBe(422);
      const problem = (await response.json()) as { code: string; detail: string; field: string };
      expect(problem).toMatchObject({ code: 'INVALID_REGEXP', field: 'policy.certificateIdentityRegExp' });
      expect(problem.detail).toMatch(named);
    }
  });
});
