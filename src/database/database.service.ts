import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Kysely } from 'kysely';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { migrateToLatest, openDatabase, pingDatabase } from './database-connection';
import type { Database } from './database.types';

/** Owns the database connection: opens and migrates it on start, closes it last on shutdown. */
@Injectable()
export class DatabaseService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('database');
  private connection: Kysely<Database> | undefined;

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
    this.connection = await openDatabase(database, (error) => this.logger.warn({ error: error.message }, 'idle PostgreSQL connection failed'));
    const applied = await migrateToLatest(this.connection);
    this.logger.log({ kind: database.kind, migrationsApplied: applied }, 'database ready');
  }

  /** Resolves when the database answers within `timeoutMs`. */
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
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection?.destroy();
    this.connection = undefined;
  }
}
