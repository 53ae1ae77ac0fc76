import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { type CompiledQuery, type DatabaseConnection, type Dialect, Kysely, type LogEvent, Migrator, PostgresDialect, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { Pool, types } from 'pg';
import type { AppConfig } from '../config/config.schema';
import type { Database } from './database.types';
import { classifyDriverError } from './database-outage';
import { migrationProvider } from './migrations';

const INT8_OID = 20;

/**
 * Opens the system of record: PostgreSQL when configured, else the embedded PGlite directory.
 * `onStatement`: told of every statement run (and its error, if it failed).
 */
export async function openDatabase(config: AppConfig['database'], onPoolError?: (error: Error) => void, onStatement?: (event: LogEvent) => void): Promise<Kysely<Database>> {
  if (config.kind === 'postgres') {
    // Log indices and sizes are int8; they stay well below 2^53, so numbers are exact.
    types.setTypeParser(INT8_OID, (value) => Number(value));
    const pool = new Pool({
      connectionString: config.url,
      max: config.poolSize,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      application_name: 'wasm-signer',
    });
    pool.on('error', (error) => onPoolError?.(error));
    // A connection that dies while checked out emits 'error' on its client, where the pool no longer
    // listens; without a listener that would crash the process. The query in flight fails on its own.
    pool.on('connect', (client) => client.on('error', (error) => onPoolError?.(error)));
    return new Kysely<Database>({ dialect: outageAwareDialect(new PostgresDialect({ pool })), ...(onStatement ? { log: onStatement } : {}) });
  }
  mkdirSync(config.dataDir, { recursive: true });
  const pglite = await PGlite.create(config.dataDir, { parsers: { [INT8_OID]: (value: string) => Number(value) } });
  return new Kysely<Database>({ dialect: outageAwareDialect(new PGliteDialect(pglite)), ...(onStatement ? { log: onStatement } : {}) });
}

export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '(unknown)'} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export async function pingDatabase(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}

/**
 * The dialect with its driver's errors classified where they are thrown: a lost or refused connection,
 * a server shutting down, a full disk become a DatabaseOutageError (the driver's error its cause); any
 * other error is thrown as it was.
 */
export function outageAwareDialect(dialect: Dialect): Dialect {
  const classified = (error: unknown) => classifyDriverError(error) ?? error;
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver: () => {
      const driver = dialect.createDriver();
      const originals = new WeakMap<DatabaseConnection, DatabaseConnection>();
      const original = (connection: unknown) => (connection && typeof connection === 'object' ? (originals.get(connection as DatabaseConnection) ?? connection) : connection);
      const wrap = (connection: DatabaseConnection): DatabaseConnection => {
        const wrapped: DatabaseConnection = {
          executeQuery: async <R>(query: CompiledQuery) => {
            try {
              return await connection.executeQuery<R>(query);
            } catch (error) {
              throw classified(error);
            }
          },
          streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
        };
        originals.set(wrapped, connection);
        return wrapped;
      };
      return new Proxy(driver, {
        get(target, property) {
          const value = Reflect.get(target, property, target) as unknown;
          if (typeof value !== 'function') return value;
          return async (...args: unknown[]) => {
            try {
              const result = (await (value as (...a: unknown[]) => unknown).apply(target, args.map(original))) as unknown;
              return property === 'acquireConnection' ? wrap(result as DatabaseConnection) : result;
            } catch (error) {
              throw classified(error);
            }
          };
        },
      });
    },
  };
}
