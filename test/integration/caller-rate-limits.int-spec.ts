import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import IORedis from 'ioredis';
import { CallerRateLimits, callerKey, UPLOAD_SLOT_LEASE_MS } from '../../src/auth/caller-rate-limits';
import { UploadSlots } from '../../src/auth/upload-slots';
import { ProblemError } from '../../src/common/problem';
import { loadConfig } from '../../src/config/config.schema';
import { freePort } from '../support/service-process';
import { testEnvironment } from '../support/test-environment';
import { deleteQueueKeys } from './support/integration-env';

/**
 * CallerRateLimits against the real Redis. Two instances on one QUEUE_PREFIX stand for two API
 * processes: they share every budget; another prefix (another deployment) shares none.
 */
describe('CallerRateLimits (Redis)', () => {
  const env = testEnvironment();
  const prefixes: string[] = [];
  const opened: CallerRateLimits[] = [];
  let redis: IORedis;

  beforeAll(() => {
    // The unreachable-Redis case logs each refusal; the test asserts them instead.
    Logger.overrideLogger(['error']);
    redis = new IORedis(env.redisUrl, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    await Promise.all(opened.map((limits) => limits.onApplicationShutdown()));
    for (const prefix of prefixes) await deleteQueueKeys(env.redisUrl, prefix);
    redis.disconnect();
  });

  const limitsOn = (prefix: string, extra: Record<string, string> = {}) => {
    const limits = new CallerRateLimits(
      loadConfig({ REDIS_URL: env.redisUrl, QUEUE_PREFIX: prefix, RATE_LIMIT_VERIFICATIONS_PER_MINUTE: '3', RATE_LIMIT_SIGNATURES_PER_MINUTE: '2', ...extra }),
    );
    limits.onApplicationBootstrap();
    opened.push(limits);
    return limits;
  };
  const newPrefix = () => {
    const prefix = `int-rl-${randomUUID().slice(0, 8)}`;
    prefixes.push(prefix);
    return prefix;
  };
  /** The problem a call was refused with. */
  const refusal = async (attempt: Promise<unknown>): Promise<ProblemError> => {
    const error = await attempt.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof ProblemError)) throw new Error(`expected a problem, got ${String(error)}`);
    return error;
  };

  it('counts a caller across processes: the budget is spent whichever process answers, with the fields to send', async () => {
    const prefix = newPrefix();
    const [a, b] = [limitsOn(prefix), limitsOn(prefix)];
    expect(await a.count('verifications', 'api-key:alice')).toEqual({ 'RateLimit-Policy': '"verifications";q=3;w=60', RateLimit: '"verifications";r=2;t=60' });
    expect((await b.count('verifications', 'api-key:alice')).RateLimit).toMatch(/^"verifications";r=1;t=(59|60)$/);
    expect((await a.count('verifications', 'api-key:alice')).RateLimit).toMatch(/^"verifications";r=0;t=(59|60)$/);

    const refused = await refusal(b.count('verifications', 'api-key:alice'));
    expect(refused).toMatchObject({ status: 429, code: 'RATE_LIMITED', extensions: { category: 'verifications', limit: 3, windowSeconds: 60 } });
    expect(refused.headers).toEqual({
      'Retry-After': expect.stringMatching(/^(59|60)$/),
      'RateLimit-Policy': '"verifications";q=3;w=60',
      RateLimit: expect.stringMatching(/^"verifications";r=0;t=(59|60)$/),
    });
    // The counter is one key under the deployment's prefix, expiring with the window.
    const key = `${prefix}:rate-limit:verifications:${callerKey('api-key:alice')}`;
    expect(await redis.get(key)).toBe('4');
    expect(await redis.pttl(key)).toBeGreaterThan(55_000);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(60_000);
  });

  it('keeps callers, categories and deployments apart', async () => {
    const prefix = newPrefix();
    const limits = limitsOn(prefix);
    for (let i = 0; i < 2; i++) await limits.count('signatures', 'api-key:alice');
    await expect(refusal(limits.count('signatures', 'api-key:alice'))).resolves.toMatchObject({ code: 'RATE_LIMITED' });
    expect((await limits.count('signatures', 'api-key:bob')).RateLimit).toMatch(/r=1;/);
    expect((await limits.count('verifications', 'api-key:alice')).RateLimit).toMatch(/r=2;/);
    expect((await limitsOn(newPrefix()).count('signatures', 'api-key:alice')).RateLimit).toMatch(/r=1;/);
  });

  it('leaves a category with limit 0 uncounted', async () => {
    const prefix = newPrefix();
    const limits = limitsOn(prefix, { RATE_LIMIT_UPLOADS_PER_MINUTE: '0', MAX_CONCURRENT_UPLOADS_PER_CALLER: '0' });
    for (let i = 0; i < 5; i++) expect(await limits.count('uploads', 'api-key:alice')).toEqual({});
    const releases = await Promise.all(Array.from({ length: 10 }, () => limits.takeUploadSlot('api-key:alice')));
    releases.forEach((release) => release());
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);
  });

  it("caps a caller's uploads in progress across processes; a slot given back is free again", async () => {
    const prefix = newPrefix();
    const [a, b] = [limitsOn(prefix, { MAX_CONCURRENT_UPLOADS_PER_CALLER: '2' }), limitsOn(prefix, { MAX_CONCURRENT_UPLOADS_PER_CALLER: '2' })];
    const first = await a.takeUploadSlot('api-key:alice');
    await b.takeUploadSlot('api-key:alice');
    const refused = await refusal(a.takeUploadSlot('api-key:alice'));
    expect(refused).toMatchObject({ status: 429, code: 'TOO_MANY_CONCURRENT_UPLOADS', extensions: { limit: 2 } });
    expect(refused.headers).toEqual({ 'Retry-After': '5' });
    // Another caller has slots of its own.
    (await b.takeUploadSlot('api-key:bob'))();

    first();
    first(); // a second release gives back nothing more
    const slots = new UploadSlots(redis, UPLOAD_SLOT_LEASE_MS);
    const key = `${prefix}:upload-slots:${callerKey('api-key:alice')}`;
    await eventuallyEqual(() => slots.held(key), 1);
    await b.takeUploadSlot('api-key:alice');
    await expect(refusal(b.takeUploadSlot('api-key:alice'))).resolves.toMatchObject({ code: 'TOO_MANY_CONCURRENT_UPLOADS' });
  });

  it('frees the slots of a process that died when their leases end; renewed leases stay', async () => {
    const key = `${newPrefix()}:upload-slots:caller`;
    const slots = new UploadSlots(redis, 400);
    expect(await slots.take(key, 'dead-1', 2)).toBe(true);
    expect(await slots.take(key, 'alive', 2)).toBe(true);
    expect(await slots.take(key, 'new', 2)).toBe(false);
    for (let i = 0; i < 3; i++) {
      await sleep(200);
      expect(await slots.renew(key, 'alive')).toBe(true);
    }
    // 'dead-1' was never renewed: its lease has ended and its slot is free; 'alive' still holds one.
    expect(await slots.held(key)).toBe(1);
    expect(await slots.take(key, 'new', 2)).toBe(true);
    expect(await slots.renew(key, 'dead-1')).toBe(false);
    // With no renewal at all, the whole set expires.
    await sleep(500);
    expect(await redis.exists(key)).toBe(0);
  });

  it('refuses with 503 RATE_LIMIT_UNAVAILABLE at once when Redis cannot be reached (fail closed)', async () => {
    const limits = new CallerRateLimits(loadConfig({ REDIS_URL: `redis://127.0.0.1:${await freePort()}`, QUEUE_PREFIX: newPrefix() }));
    limits.onApplicationBootstrap();
    opened.push(limits);
    const started = Date.now();
    await expect(refusal(limits.count('verifications', 'api-key:alice'))).resolves.toMatchObject({ status: 503, code: 'RATE_LIMIT_UNAVAILABLE' });
    await expect(refusal(limits.takeUploadSlot('api-key:alice'))).resolves.toMatchObject({ status: 503, code: 'RATE_LIMIT_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

async function eventuallyEqual<T>(read: () => Promise<T>, expected: T, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (last === expected) return;
    await sleep(50);
  }
  expect(last).toBe(expected);
}
