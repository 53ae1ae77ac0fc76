import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** A PostgreSQL database of its own for one test file, dropped afterwards. */
export class TestDatabase {
  private constructor(
    private readonly serverUrl: string,
    readonly name: string,
    readonly url: string,
  ) {}

  static async create(serverUrl: string): Promise<TestDatabase> {
    const name = `wasm_signer_test_${randomBytes(6).toString('hex')}`;
    await withClient(serverUrl, (client) => client.query(`create database ${name}`));
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return new TestDatabase(serverUrl, name, url.toString());
  }

  async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return withClient(this.url, async (client) => (await client.query<T>(sql, params)).rows);
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
