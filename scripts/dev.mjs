// `npm run dev`: the local supply-chain stack (Fulcio, Rekor, TSA, OIDC issuer, OCI registry), Redis when
// it is installed and not running, and the service (ROLE=all, embedded database) configured against
// them. Everything runs on loopback and works offline. Ctrl-C stops it all.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const dist = (path) => join(root, 'dist', path);
if (!existsSync(dist('src/main.js'))) {
  console.error('dist/ is missing: run `npm run build` first (npm run dev does).');
  process.exit(1);
}
const { ensureLocalStack } = require(dist('dev/stack/ensure-local-stack.js'));
const { ensureLocalRedis } = require(dist('dev/local-redis.js'));

const log = (message) => console.error(`[dev] ${message}`);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = await ensureLocalRedis(redisUrl, log);
const stack = await ensureLocalStack({ repoRoot: root, log });

const adminPassword = process.env.ADMIN_PASSWORD ?? randomBytes(12).toString('base64url');
const env = { ...stack.env, REDIS_URL: redisUrl, ADMIN_PASSWORD: adminPassword, ...process.env };
const port = env.PORT ?? '3000';
log(`API        http://127.0.0.1:${port}/docs`);
log(`queues     http://127.0.0.1:${port}/admin/queues (user admin, password ${adminPassword})`);

const service = spawn(process.execPath, [dist('src/main.js')], { env, stdio: 'inherit' });
let stopping = false;
const stop = async (signal) => {
  if (stopping) return;
  stopping = true;
  service.kill(signal);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
service.on('exit', async (code) => {
  await stack.stop();
  await redis.stop();
  process.exit(code ?? 0);
});
