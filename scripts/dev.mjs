// `npm run dev`: the local supply-chain stack (Fulcio, Rekor, TSA, OIDC issuer, OCI registry), Redis when
// it is installed and not running, a webhook inbox, and the service (ROLE=all, embedded database)
// configured against them. Everything runs on loopback and works offline.
//
// Development keeps to itself: its queues carry a prefix of their own (derived from this checkout's
// folder), and its database is the embedded one under ./data, so it never runs jobs that tests or
// another checkout left in the machine's Redis. Webhook subscription secrets are stored encrypted with a
// key made once under the data directory (never printed). Ctrl-C stops the service first (its workers finish or
// release the steps they hold) and only then the stack and Redis, which run in process groups of their
// own so that the terminal's Ctrl-C does not reach them first.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
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
const { startWebhookInbox } = require(dist('dev/webhook-inbox.js'));
const { ensureSecretEncryptionKeysFile } = require(dist('dev/secret-encryption-keys-file.js'));

const log = (message) => console.error(`[dev] ${message}`);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = await ensureLocalRedis(redisUrl, log);
const stack = await ensureLocalStack({ repoRoot: root, log });

const checkout = createHash('sha256').update(root).digest('hex').slice(0, 8);
const dataDir = process.env.DATA_DIR ?? join(root, 'data');
const adminKeyFile = join(dataDir, 'dev-admin-key');
const defaults = {
  REDIS_URL: redisUrl,
  QUEUE_PREFIX: `wasm-signer-dev-${checkout}`,
  DATA_DIR: dataDir,
  // The development admin key: made once, kept with the data (the README's examples read it from there).
  BOOTSTRAP_ADMIN_API_KEY: devAdminKey(adminKeyFile),
  ADMIN_PASSWORD: randomBytes(12).toString('base64url'),
  // Job callbackUrl deliveries are signed with this; a fresh one each run, printed below.
  WEBHOOK_CALLBACK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
  // Webhooks may reach receivers on this machine (the inbox below); production allows public HTTPS only.
  WEBHOOK_ALLOWLIST: '127.0.0.1,::1,localhost',
  // Registries may be on this machine too (the stack's, on 127.0.0.1); production allows public ones only.
  REGISTRY_PRIVATE_ALLOWLIST: '127.0.0.1,::1,localhost',
  // This one process also builds (POST /v1/builds), in its bubblewrap sandbox; production puts builds on
  // their own workers (BUILD_WORKER=only).
  BUILD_WORKER: 'also',
};
const env = { ...stack.env, ...defaults, ...process.env };
// Webhook subscription secrets are stored encrypted with this key. Made once and kept under the data
// directory with the database, so the secrets of earlier runs stay readable; the key itself is not printed.
if (!env.SECRET_ENCRYPTION_KEYS && !env.SECRET_ENCRYPTION_KEYS_FILE) {
  const { file, created } = ensureSecretEncryptionKeysFile(env.DATA_DIR);
  env.SECRET_ENCRYPTION_KEYS_FILE = file;
  log(`webhook secrets are stored encrypted with the key in ${relative(process.cwd(), file) || file} (${created ? 'made now' : 'kept from an earlier run'})`);
}

// Trusted publishers: tokens the local stack's OIDC issuer mints for the repository demo/hello-http (the
// README's example) may publish, sign and verify under <registry>/demo/. Written afresh on every run, so
// that it follows the stack's ports; set TRUSTED_PUBLISHERS_FILE to use rules of your own.
if (!env.TRUSTED_PUBLISHERS_FILE && stack.env.LOCAL_OIDC_ISSUER_URL) {
  const registryHost = stack.env.LOCAL_REGISTRY ?? '127.0.0.1:5000';
  const rules = {
    rules: [
      {
        name: 'local-demo',
        issuer: stack.env.LOCAL_OIDC_ISSUER_URL,
        claims: { repository: 'demo/hello-http' },
        scopes: ['artifacts:write', 'signatures:write', 'verifications:write', 'records:read'],
        repositories: [`${registryHost}/demo/**`],
      },
    ],
  };
  mkdirSync(env.DATA_DIR, { recursive: true });
  env.TRUSTED_PUBLISHERS_FILE = join(env.DATA_DIR, 'trusted-publishers.json');
  writeFileSync(env.TRUSTED_PUBLISHERS_FILE, `${JSON.stringify(rules, null, 2)}\n`);
}

// The admission webhook (POST /v1/admission): images under <registry>/demo/ must be signed by the identity
// the local stack signs as. Written afresh on every run; set ADMISSION_POLICY_FILE to use a policy of your own.
if (!env.ADMISSION_POLICY_FILE && stack.env.LOCAL_CERTIFICATE_IDENTITY && stack.env.LOCAL_OIDC_ISSUER_URL) {
  const registryHost = stack.env.LOCAL_REGISTRY ?? '127.0.0.1:5000';
  const policy = {
    images: [
      {
        pattern: `${registryHost}/demo/**`,
        policy: { certificateIdentity: stack.env.LOCAL_CERTIFICATE_IDENTITY, certificateOidcIssuer: stack.env.LOCAL_OIDC_ISSUER_URL },
      },
    ],
  };
  mkdirSync(env.DATA_DIR, { recursive: true });
  env.ADMISSION_POLICY_FILE = join(env.DATA_DIR, 'admission-policy.json');
  writeFileSync(env.ADMISSION_POLICY_FILE, `${JSON.stringify(policy, null, 2)}\n`);
}

const inboxPort = Number(env.DEV_WEBHOOK_INBOX_PORT ?? '5580');
const inbox = await startWebhookInbox({ host: '127.0.0.1', port: inboxPort, callbackSecret: env.WEBHOOK_CALLBACK_SECRET, log });

const port = env.PORT ?? '3000';
log(`API        http://127.0.0.1:${port}/docs`);
log(`queues     http://127.0.0.1:${port}/admin/queues (user admin, password ${env.ADMIN_PASSWORD})`);
log(
  process.env.BOOTSTRAP_ADMIN_API_KEY
    ? 'admin key  BOOTSTRAP_ADMIN_API_KEY from the environment'
    : `admin key  ${env.BOOTSTRAP_ADMIN_API_KEY}  (Swagger UI: Authorize; shell: export WASM_SIGNER_KEY=$(cat ${relative(process.cwd(), adminKeyFile) || adminKeyFile}))`,
);
log(`webhooks   ${inbox.url}/ lists what the inbox received; callbacks are signed with WEBHOOK_CALLBACK_SECRET=${env.WEBHOOK_CALLBACK_SECRET}`);
log(`queue prefix ${env.QUEUE_PREFIX}, data ${env.DATABASE_URL ? 'DATABASE_URL' : env.DATA_DIR}`);
log(`trusted publishers ${env.TRUSTED_PUBLISHERS_FILE ?? '(none)'}: edit it while the service runs, the next request uses it`);
log(`admission policy ${env.ADMISSION_POLICY_FILE ?? '(none: POST /v1/admission answers 503)'}: read at start`);

const service = spawn(process.execPath, [dist('src/main.js')], { env, stdio: 'inherit' });
let stopping = false;
const stop = (signal) => {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping the service (its workers finish or release their steps), then the stack`);
  service.kill(signal);
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
service.on('exit', async (code, signal) => {
  const started = ['the webhook inbox', ...(stack.started ? ['the local stack'] : []), ...(redis.started ? ['Redis'] : [])];
  log(`service stopped (${signal ?? `exit code ${code}`}); stopping ${started.join(', ')}${stack.started ? '' : ' (the local stack was already running: left running)'}`);
  await inbox.stop();
  await stack.stop();
  await redis.stop();
  process.exit(code ?? 0);
});

/** The development admin key in `file`, made (mode 0600) on the first run. */
function devAdminKey(file) {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = `wsk_dev_${randomBytes(32).toString('base64url')}`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}
