import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * A PostgreSQL database of its own for one test file or benchmark run, created on a server and dropped
 * afterwards (development and tests only).
 */
export class ScratchDatabase {
  private constructor(
    private readonly serverUrl: string,
    readonly name: string,
    readonly url: string,
  ) {}

  static async create(serverUrl: string, prefix = 'wasm_signer_test'): Promise<ScratchDatabase> {
    const name = `${prefix.replace(/[^a-z0-9_]/g, '_')}_${randomBytes(6).toString('hex')}`;
    await withClient(serverUrl, (client) => client.query(`create database ${name}`));
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return new ScratchDatabase(serverUrl, name, url.toString());
  }

  async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return withClient(this.url, async (client) => (await client.query<T>(sql, params)).rows);
  }

  /** Pids of the PostgreSQL backends serving this database now (for CPU accounting). */
  async backendPids(): Promise<number[]> {
    return withClient(this.serverUrl, async (client) => {
      const { rows } = await client.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [this.name]);
      return rows.map((row) => row.pid);
    });
  }

  async drop(): Promise<void> {
    await withClient(this.serverUrl, (client) => client.query(`drop database if exists ${this.name} with (force)`));
  }
}

/** Resolves when PostgreSQL answers at `url`; else an error that says so and how to fix it (`hint`). */
export async function checkPostgres(url: string, hint: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    throw new Error(`PostgreSQL is not reachable at ${url} (${(error as Error).message}). ${hint}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function withClient<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
