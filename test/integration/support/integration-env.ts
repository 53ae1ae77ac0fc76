import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import IORedis from 'ioredis';
import { type AppConfig, loadConfig } from '../../../src/config/config.schema';
import { DatabaseService } from '../../../src/database/database.service';
import { TestDatabase } from '../../support/test-database';
import { type TestEnvironment, testEnvironment } from '../../support/test-environment';

/**
 * What an integration test file shares: the real PostgreSQL (a database of its own, migrated by the
 * service's own DatabaseService) and the real Redis (a queue prefix of its own, whose keys are deleted
 * at the end). No service process, no AppModule: the classes under test are built by hand on top.
 */
export interface Integration {
  env: TestEnvironment;
  config: AppConfig;
  database: DatabaseService;
  scratch: TestDatabase;
  /** Stops what `startIntegration` opened and deletes this file's Redis keys and database. */
  stop(): Promise<void>;
}

/**
 * Opens a migrated database and a config pointing at it, Redis (under a fresh QUEUE_PREFIX) and the
 * local stack. `overrides` are environment variables as the service reads them.
 */
export async function startIntegration(overrides: Record<string, string> = {}): Promise<Integration> {
  // Workers log every retried attempt; the test asserts them instead.
  Logger.overrideLogger(['error']);
  const env = testEnvironment();
  const scratch = await TestDatabase.create(env.postgresServerUrl, 'wasm_signer_int');
  const config = loadConfig({
    ...env.stackEnv,
    DATABASE_URL: scratch.url,
    DATABASE_POOL_SIZE: '4',
    REDIS_URL: env.redisUrl,
    QUEUE_PREFIX: `int-${randomUUID().slice(0, 12)}`,
    INSTANCE_ID: 'integration-worker',
    ...overrides,
  });
  const database = new DatabaseService(config);
  try {
    await database.onModuleInit();
  } catch (error) {
    await scratch.drop();
    throw error;
  }
  return {
    env,
    config,
    database,
    scratch,
    stop: async () => {
      await database.onApplicationShutdown();
      await scratch.drop();
      await deleteQueueKeys(env.redisUrl, config.queues.prefix);
    },
  };
}

/** Deletes every Redis key under one queue prefix (BullMQ names them `<prefix>:<queue>:…`). */
export async function deleteQueueKeys(redisUrl: string, prefix: string): Promise<number> {
  const redis = new IORedis(redisUrl, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) deleted += await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** Polls `read` until `done` holds for what it returns, or fails after `timeoutMs` with the last value. */
export async function eventually<T, U extends T>(read: () => Promise<T>, done: (value: T) => value is U, timeoutMs?: number, what?: string): Promise<U>;
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs?: number, what?: string): Promise<T>;
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await read();
    if (done(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await sleep(50);
  }
}
