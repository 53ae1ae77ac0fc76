import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Kysely, LogEvent } from 'kysely';
import { databaseOutage } from './database-outage';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { migrateToLatest, openDatabase, pingDatabase } from './database-connection';
import type { Database } from './database.types';

/** Readiness stays red this long after a write was refused for lack of space, unless a write succeeds. */
export const STORAGE_FULL_HOLD_MS = 30_000;

/**
 * Owns the database connection: opens and migrates it on start, closes it last on shutdown. Watches
 * every statement for writes refused for lack of space: from the first one the log says so and the
 * database counts as not ready (ping), until a write succeeds again (or none was refused for
 * STORAGE_FULL_HOLD_MS: readiness then lets traffic, whose writes tell, come back).
 */
@Injectable()
export class DatabaseService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('database');
  private connection: Kysely<Database> | undefined;
  private storageFull: { lastAt: number; message: string } | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  get kind(): AppConfig['database']['kind'] {
    return this.config.database.kind;
  }

  get db(): Kysely<Database> {
    if (!this.connection) throw new Error('database is not open yet');
    return this.connection;
  }

  async onModuleInit(): Promise<void> {
    const { database } = this.config;
    this.connection = await openDatabase(
      database,
      (error) => this.logger.warn({ error: error.message }, 'idle PostgreSQL connection failed'),
      (event) => this.observe(event),
    );
    const applied = await migrateToLatest(this.connection);
    this.logger.log({ kind: database.kind, migrationsApplied: applied }, 'database ready');
  }

  /** Notes writes refused for lack of space, and the first write that succeeds after them. */
  observe(event: LogEvent): void {
    if (event.level === 'error') {
      const outage = databaseOutage(event.error);
      if (outage?.code !== 'DATABASE_STORAGE_FULL') return;
      if (!this.storageFull) this.logger.error({ code: outage.code, error: outage.message }, 'database out of storage (disk full): writes are refused until space is freed');
      this.storageFull = { lastAt: Date.now(), message: outage.message };
    } else if (this.storageFull && /^\s*(insert|update|delete)\b/i.test(event.query.sql)) {
      this.storageFull = undefined;
      this.logger.log('database storage: writes succeed again');
    }
  }

  /** Resolves when the database answers within `timeoutMs` and takes writes (none refused lately for lack of space). */
  async ping(timeoutMs = 2_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        pingDatabase(this.db),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    const refusal = this.storageRefusal();
    if (refusal) throw new Error(refusal);
  }

  /** Why writes are being refused for lack of space (the database's own words), while they are. */
  storageRefusal(): string | undefined {
    if (this.storageFull && Date.now() - this.storageFull.lastAt < STORAGE_FULL_HOLD_MS) return this.storageFull.message;
    return undefined;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection?.destroy();
    this.connection = undefined;
  }
}
