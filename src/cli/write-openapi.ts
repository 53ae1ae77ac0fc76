/**
 * `npm run openapi` writes openapi/openapi.json from the code; `npm run openapi:check` fails when the
 * committed file differs from what the code produces. Needs neither Redis nor a database.
 */
import 'reflect-metadata';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createApp } from '../app';
import { loadConfig } from '../config/config.schema';
import { buildOpenApiDocument, stableJson } from '../openapi/openapi-document';

const OUTPUT = resolve(__dirname, '../../../openapi/openapi.json');

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const dataDir = mkdtempSync(join(tmpdir(), 'wasm-signer-openapi-'));
  // Role `all` so the document holds every route; nothing is started or connected.
  const config = loadConfig({ ROLE: 'all', DATA_DIR: dataDir, LOG_LEVEL: 'silent', ADMIN_PASSWORD: undefined });
  const app = await createApp(config, { quiet: true });
  try {
    const document = stableJson(buildOpenApiDocument(app));
    if (check) {
      let committed = '';
      try {
        committed = readFileSync(OUTPUT, 'utf8');
      } catch {
        // a missing file is drift too
      }
      if (committed !== document) {
        process.stderr.write('openapi/openapi.json is out of date with the code: run `npm run openapi` and commit the result\n');
        process.exitCode = 1;
      } else {
        process.stdout.write('openapi/openapi.json matches the code\n');
      }
    } else {
      writeFileSync(OUTPUT, document);
      process.stdout.write('wrote openapi/openapi.json\n');
    }
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
