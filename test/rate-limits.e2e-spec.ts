import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type IncomingMessage, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { callerKey } from '../src/auth/caller-rate-limits';
import { BUNDLE_EXAMPLE } from '../src/openapi/examples';
import { eventually, ServiceProcess } from './support/service-process';
import { TcpProxy } from './support/tcp-proxy';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, TEST_ADMIN_KEY, testEnvironment, testServiceEnv } from './support/test-environment';

interface Problem {
  code: string;
  status: number;
  detail: string;
}

/**
 * Per-caller rate limits across API processes: two ROLE=api processes on one database, one Redis and one
 * QUEUE_PREFIX, as two replicas behind a load balancer. Requests alternate between them; the budget is
 * the caller's, whichever process answers.
 */
describe('per-caller rate limits', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  const bundleRequest = JSON.stringify({
    bundle: BUNDLE_EXAMPLE.bundle,
    artifactDigest: BUNDLE_EXAMPLE.artifactDigest,
    policy: { certificateIdentity: BUNDLE_EXAMPLE.certificateIdentity, certificateOidcIssuer: BUNDLE_EXAMPLE.certificateOidcIssuer },
    trustedRoot: BUNDLE_EXAMPLE.trustedRoot,
  });
  let database: TestDatabase;
  let serviceEnv: Record<string, string>;
  let replicas: [ServiceProcess, ServiceProcess];
  let redis: IORedis;
  const others: ServiceProcess[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    serviceEnv = testServiceEnv(database.url, 'rate-limits', {
      ROLE: 'api',
      RATE_LIMIT_VERIFICATIONS_PER_MINUTE: '3',
      RATE_LIMIT_SIGNATURES_PER_MINUTE: '5',
      MAX_CONCURRENT_UPLOADS_PER_CALLER: '2',
    });
    // One after the other: the first runs the migrations.
    const first = await ServiceProcess.start(serviceEnv);
    replicas = [first, await ServiceProcess.start(serviceEnv)];
    redis = new IORedis(env.redisUrl, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    await Promise.all([...(replicas ?? []), ...others].map((service) => service.stop('SIGTERM')));
    await Promise.all(proxies.map((proxy) => proxy.close()));
    redis?.disconnect();
    await database?.drop();
  });

  const verifyBundle = (service: ServiceProcess, headers: Record<string, string> = {}, body = bundleRequest) =>
    service.fetch('/v1/verifications/bundle', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('spends a caller’s verification budget across both processes; the fourth request is refused whichever answers', async () => {
    const [a, b] = replicas;
    const answers = [];
    for (const service of [a, b, a]) {
      const response = await verifyBundle(service);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { verified: boolean }).verified).toBe(true);
      answers.push({ policy: response.headers.get('ratelimit-policy'), limit: response.headers.get('ratelimit') });
    }
    expect(answers).toEqual([2, 1, 0].map((left) => ({ policy: '"verifications";q=3;w=60', limit: expect.stringMatching(new RegExp(`^"verifications";r=${left};t=\\d+$`)) })));

    for (const service of [b, a]) {
      const refused = await verifyBundle(service);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('content-type')).toContain('application/problem+json');
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(refused.headers.get('ratelimit-policy')).toBe('"verifications";q=3;w=60');
      expect(refused.headers.get('ratelimit')).toBe(`"verifications";r=0;t=${retryAfter}`);
      const problem = (await refused.json()) as Problem;
      expect(problem).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      expect(problem.detail).toMatch(/verifications budget of 3 requests per 60 s/);
    }

    // Counted before the body is looked at: an invalid body is refused for the budget, not validated.
    const invalid = await verifyBundle(b, {}, JSON.stringify({ bundle: 'not a bundle' }));
    expect(invalid.status).toBe(429);
    // The same caller's other budgets are untouched: a sign request (here an invalid one, 400) is counted
    // against signatures.
    const sign = await a.fetch('/v1/signatures', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(sign.status).toBe(400);
    expect(sign.headers.get('ratelimit-policy')).toBe('"signatures";q=5;w=60');
    expect(sign.headers.get('ratelimit')).toMatch(/^"signatures";r=4;t=\d+$/);
  });

  it('gives another caller a budget of its own', async () => {
    const [a, b] = replicas;
    const created = await a.fetch('/v1/api-keys', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'rate-limits-second-caller', scopes: ['verifications:write'], repositories: ['**'] }),
    });
    expect(created.status).toBe(201);
    const { key } = (await created.json()) as { key: string };
    const asSecond = { authorization: `Bearer ${key}` };
    // The admin key's budget is spent (previous test), and stays so.
    expect((await verifyBundle(a)).status).toBe(429);
    for (const [service, left] of [
      [b, 2],
      [a, 1],
      [b, 0],
    ] as const) {
      const response = await verifyBundle(service, asSecond);
      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit')).toMatch(new RegExp(`^"verifications";r=${left};t=\\d+$`));
    }
    expect((await verifyBundle(a, asSecond)).status).toBe(429);
  });

  it('caps the uploads a caller has in progress across processes, and frees a slot when an upload ends', async () => {
    const [a, b] = replicas;
    const repository = `${registryHost}/e2e/rate-limits-${randomUUID().slice(0, 12)}`;
    const slotsKey = `${serviceEnv.QUEUE_PREFIX}:upload-slots:${callerKey('api-key:bootstrap')}`;
    const slotsHeld = () => redis.zcard(slotsKey);

    // Two uploads, one on each process, send their first bytes and then hold the connection open.
    const held = [a, b].map((service, i) => slowUpload(service, `/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=held-${i}`, component));
    await eventually(async () => ((await slotsHeld()) === 2 ? true : undefined), 10_000, 'both uploads to hold a slot');

    const refused = await a.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=refused`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    const problem = (await refused.json()) as Problem;
    expect(problem).toMatchObject({ status: 429, code: 'TOO_MANY_CONCURRENT_UPLOADS' });
    expect(problem.detail).toContain('at most 2 uploads in progress at once');

    // The held uploads finish and are accepted; their slots are given back.
    const finished = await Promise.all(held.map((upload) => upload.finish()));
    expect(finished.map((response) => response.status)).toEqual([202, 202]);
    await eventually(async () => ((await slotsHeld()) === 0 ? true : undefined), 10_000, 'the slots to be given back');

    const next = await b.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=next`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    expect(next.status).toBe(202);
    expect(next.headers.get('ratelimit-policy')).toBe('"uploads";q=60;w=60');
    // Four uploads counted so far: the two held, the refused one and this one.
    expect(next.headers.get('ratelimit')).toMatch(/^"uploads";r=56;t=\d+$/);
  });

  it('gives back the slot of an upload whose client goes away', async () => {
    const [a] = replicas;
    const repository = `${registryHost}/e2e/rate-limits-${randomUUID().slice(0, 12)}`;
    const slotsKey = `${serviceEnv.QUEUE_PREFIX}:upload-slots:${callerKey('api-key:bootstrap')}`;
    const upload = slowUpload(a, `/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=abandoned`, component);
    await eventually(async () => ((await redis.zcard(slotsKey)) === 1 ? true : undefined), 10_000, 'the upload to hold a slot');
    upload.abandon();
    await eventually(async () => ((await redis.zcard(slotsKey)) === 0 ? true : undefined), 10_000, 'the abandoned upload’s slot to be given back');
  });

  it('refuses limited requests with 503 RATE_LIMIT_UNAVAILABLE while Redis is unreachable (fail closed), and counts again when it is back', async () => {
    const target = new URL(env.redisUrl);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port || 6379));
    proxies.push(proxy);
    const service = await ServiceProcess.start({ ...serviceEnv, REDIS_URL: `redis://127.0.0.1:${proxy.port}`, QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}` });
    others.push(service);
    expect((await verifyBundle(service)).status).toBe(200);

    proxy.cut();
    const refused = await eventually(async () => {
      const response = await verifyBundle(service);
      return response.status === 503 ? response : undefined;
    });
    expect(((await refused.json()) as Problem).code).toBe('RATE_LIMIT_UNAVAILABLE');
    // Routes without a budget are not affected.
    expect((await service.fetch('/v1/api-keys')).status).toBe(200);

    proxy.restore();
    const counted = await eventually(async () => {
      const response = await verifyBundle(service);
      return response.status === 200 ? response : undefined;
    });
    expect(counted.headers.get('ratelimit')).toMatch(/^"verifications";r=1;t=\d+$/);
  });
});

/**
 * An upload whose first kilobyte is sent at once and the rest only on `finish()`, as a slow client
 * streams a large file: the request holds its upload slot meanwhile. `abandon()` closes the connection
 * instead.
 */
function slowUpload(service: ServiceProcess, path: string, body: Buffer) {
  const request = httpRequest(`${service.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/wasm', 'content-length': String(body.length), authorization: `Bearer ${TEST_ADMIN_KEY}` },
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  response.catch(() => undefined);
  request.write(body.subarray(0, 1024));
  return {
    finish: async () => {
      request.end(body.subarray(1024));
      const answer = await response;
      answer.resume();
      return { status: answer.statusCode };
    },
    abandon: () => request.destroy(),
  };
}
