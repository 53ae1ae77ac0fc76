import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** A PostgreSQL database created for one benchmark and dropped after it. */
export class BenchDatabase {
  private constructor(
    private readonly serverUrl: string,
    readonly name: string,
    readonly url: string,
  ) {}

  static async create(serverUrl: string, label: string): Promise<BenchDatabase> {
    const name = `wasm_signer_bench_${label.replace(/[^a-z0-9]/g, '_')}_${randomBytes(4).toString('hex')}`;
    await withClient(serverUrl, (client) => client.query(`create database ${name}`));
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return new BenchDatabase(serverUrl, name, url.toString());
  }

  async drop(): Promise<void> {
    await withClient(this.serverUrl, (client) => client.query(`drop database if exists ${this.name} with (force)`));
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

/** Pids of the PostgreSQL backends serving a database now (for CPU accounting). */
export async function backendPids(serverUrl: string, databaseName: string): Promise<number[]> {
  return withClient(serverUrl, async (client) => {
    const { rows } = await client.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [databaseName]);
    return rows.map((row) => row.pid);
  });
}
