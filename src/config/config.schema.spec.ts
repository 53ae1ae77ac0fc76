import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from './config-error';
import { CONFIG_VARIABLES, loadConfig } from './config.schema';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('has working defaults: ROLE all on the embedded database', () => {
    const config = loadConfig({});
    expect(config.role).toBe('all');
    expect(config.http).toEqual({ host: '0.0.0.0', port: 3000, bodyLimitBytes: 1024 * 1024, timeouts: { headersMs: 10_000, bodyIdleMs: 20_000, requestMs: 900_000 } });
    expect(config.database).toEqual({ kind: 'pglite', dataDir: resolve('./data/pglite') });
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.queues).toMatchObject({ prefix: 'wasm-signer', workerConcurrency: 4, completedRetentionSeconds: 86400, failedRetentionSeconds: 604800 });
    expect(config.admin.password).toBeUndefined();
  });

  it('uses PostgreSQL when DATABASE_URL is set', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/app', ROLE: 'api', DATABASE_POOL_SIZE: '20' });
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgres://u:p@db:5432/app', poolSize: 20 });
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', ROLE: '' }).http.port).toBe(3000);
  });

  it('names every bad variable and what is wrong', () => {
    expect(problemsOf({ PORT: '3k', REDIS_URL: 'localhost:6379', LOG_LEVEL: 'loud' })).toEqual([
      { variable: 'PORT', message: 'must be a whole number' },
      { variable: 'LOG_LEVEL', message: 'must be one of fatal, error, warn, info, debug, trace, silent' },
      { variable: 'REDIS_URL', message: 'must be a URL with scheme redis:// or rediss://' },
    ]);
  });

  it('shares one Fulcio certificate per job step unless SIGNING_CERTIFICATE_SCOPE=signature', () => {
    expect(loadConfig({}).signing.certificateScope).toBe('job');
    expect(loadConfig({ SIGNING_CERTIFICATE_SCOPE: '' }).signing.certificateScope).toBe('job');
    expect(loadConfig({ SIGNING_CERTIFICATE_SCOPE: 'signature' }).signing.certificateScope).toBe('signature');
    expect(problemsOf({ SIGNING_CERTIFICATE_SCOPE: 'artifact' })).toEqual([{ variable: 'SIGNING_CERTIFICATE_SCOPE', message: 'must be one of job, signature' }]);
  });

  it('reads CORS origins and the registry egress policy, and names each entry it refuses', () => {
    const config = loadConfig({
      CORS_ALLOWED_ORIGINS: 'https://console.example.com, http://127.0.0.1:8080',
      REGISTRY_ALLOWED_HOSTS: 'ghcr.io,*.example.com:5000,[::1]:5000',
      REGISTRY_PRIVATE_ALLOWLIST: '10.0.0.0/8,registry.internal',
    });
    expect(config.cors.allowedOrigins).toEqual(['https://console.example.com', 'http://127.0.0.1:8080']);
    expect(config.registry).toMatchObject({ allowedHosts: ['ghcr.io', '*.example.com:5000', '[::1]:5000'], privateAllowlist: ['10.0.0.0/8', 'registry.internal'] });
    expect(loadConfig({}).cors.allowedOrigins).toEqual([]);
    expect(loadConfig({}).registry).toMatchObject({ allowedHosts: [], privateAllowlist: [] });

    expect(problemsOf({ CORS_ALLOWED_ORIGINS: 'https://console.example.com/,*', REGISTRY_ALLOWED_HOSTS: 'ghcr.io/x,a..b', REGISTRY_PRIVATE_ALLOWLIST: '10.0.0.0/33' })).toEqual([
      { variable: 'CORS_ALLOWED_ORIGINS', message: expect.stringContaining('https://console.example.com/ is not an origin') },
      { variable: 'CORS_ALLOWED_ORIGINS', message: expect.stringContaining('* is not an origin') },
      { variable: 'REGISTRY_ALLOWED_HOSTS', message: expect.stringContaining('entry ghcr.io/x is not a host[:port] pattern') },
      { variable: 'REGISTRY_ALLOWED_HOSTS', message: expect.stringContaining('entry a..b is not a host[:port] pattern') },
      { variable: 'REGISTRY_PRIVATE_ALLOWLIST', message: 'REGISTRY_PRIVATE_ALLOWLIST entry 10.0.0.0/33 is not a valid CIDR range' },
    ]);
  });

  it('refuses a split deployment on the embedded database', () => {
    expect(problemsOf({ ROLE: 'worker' })).toEqual([{ variable: 'DATABASE_URL', message: expect.stringContaining('required when ROLE is worker') }]);
  });

  describe('secrets from files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-spec-'));

    it('reads <NAME>_FILE, without its trailing newline', () => {
      const file = join(dir, 'database-url');
      writeFileSync(file, 'postgres://app:s3cret@db/app\n');
      expect(loadConfig({ DATABASE_URL_FILE: file })).toMatchObject({ database: { url: 'postgres://app:s3cret@db/app' } });
    });

    it('refuses both <NAME> and <NAME>_FILE', () => {
      const file = join(dir, 'redis-url');
      writeFileSync(file, 'redis://x:6379');
      expect(problemsOf({ REDIS_URL: 'redis://y:6379', REDIS_URL_FILE: file })).toEqual([
        { variable: 'REDIS_URL_FILE', message: 'set together with REDIS_URL; set only one of them' },
      ]);
    });

    it('says which file cannot be read', () => {
      expect(problemsOf({ ADMIN_PASSWORD_FILE: join(dir, 'missing') })).toEqual([{ variable: 'ADMIN_PASSWORD_FILE', message: `cannot read ${join(dir, 'missing')}: ENOENT` }]);
    });
  });

  describe('SECRET_ENCRYPTION_KEYS', () => {
    const k1 = Buffer.alloc(32, 1).toString('base64');
    const k2 = Buffer.alloc(32, 2).toString('base64');

    it('is optional: without it no secret can be sealed', () => {
      expect(loadConfig({}).secretBox).toBeUndefined();
      expect(loadConfig({ SECRET_ENCRYPTION_KEYS: '' }).secretBox).toBeUndefined();
    });

    it('seals with the first key and opens with every one', () => {
      const box = loadConfig({ SECRET_ENCRYPTION_KEYS: ` k2025:${k2} , k-2024_a:${k1},` }).secretBox!;
      expect(box.currentKeyId).toBe('k2025');
      expect(box.keyIds).toEqual(['k2025', 'k-2024_a']);
      const old = loadConfig({ SECRET_ENCRYPTION_KEYS: `k-2024_a:${k1}` }).secretBox!;
      expect(box.open(old.seal('s', 'c'), 'c')).toBe('s');
    });

    it('names each bad entry by position and key id, never by its key', () => {
      const short = Buffer.alloc(16, 3).toString('base64');
      const problems = problemsOf({
        SECRET_ENCRYPTION_KEYS: [`good:${k1}`, k2, `bad.id:${k2}`, `good:${k2}`, 'b64:not*base64', `short:${short}`, `url:${k2.replace(/\//g, '_')}x`].join(','),
      });
      expect(problems).toEqual([
        { variable: 'SECRET_ENCRYPTION_KEYS', message: 'entry 2 is not <keyId>:<base64 of 32 bytes> (it has no ":")' },
        { variable: 'SECRET_ENCRYPTION_KEYS', message: 'entry 3: key id "bad.id" must be 1-32 letters, digits, dashes or underscores' },
        { variable: 'SECRET_ENCRYPTION_KEYS', message: 'entry 4: key id good is given twice' },
        { variable: 'SECRET_ENCRYPTION_KEYS', message: 'entry 5 (key id b64): the key is not base64 (as `openssl rand -base64 32` prints it)' },
        { variable: 'SECRET_ENCRYPTION_KEYS', message: 'entry 6 (key id short): the key is 16 bytes; it must be 32 (make one with `openssl rand -base64 32`)' },
        { variable: 'SECRET_ENCRYPTION_KEYS', message: 'entry 7 (key id url): the key is not base64 (as `openssl rand -base64 32` prints it)' },
      ]);
      for (const { message } of problems) expect(message).not.toContain(k2);
      expect(problemsOf({ SECRET_ENCRYPTION_KEYS: ' , ' })).toEqual([
        { variable: 'SECRET_ENCRYPTION_KEYS', message: 'names no key; set <keyId>:<base64 of 32 bytes>, or leave it unset' },
      ]);
    });

    it('is read from SECRET_ENCRYPTION_KEYS_FILE', () => {
      const file = join(mkdtempSync(join(tmpdir(), 'config-spec-')), 'keys');
      writeFileSync(file, `from-file:${k1}\n`);
      expect(loadConfig({ SECRET_ENCRYPTION_KEYS_FILE: file }).secretBox!.keyIds).toEqual(['from-file']);
    });
  });

  it('reads the HTTP time limits and keeps the headers limit within the whole-request limit', () => {
    expect(loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_BODY_IDLE_TIMEOUT_MS: '700', HTTP_REQUEST_TIMEOUT_MS: '1000' }).http.timeouts).toEqual({
      headersMs: 500,
      bodyIdleMs: 700,
      requestMs: 1000,
    });
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '1000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS.*HTTP_REQUEST_TIMEOUT_MS/s);
  });

  it('reads the per-caller rate limits: defaults, 0 to turn one off, whole numbers only', () => {
    expect(loadConfig({}).rateLimits).toEqual({ perMinute: { uploads: 60, signatures: 120, verifications: 600, builds: 10 }, maxConcurrentUploads: 4 });
    expect(
      loadConfig({
        RATE_LIMIT_UPLOADS_PER_MINUTE: '0',
        RATE_LIMIT_SIGNATURES_PER_MINUTE: '5',
        RATE_LIMIT_VERIFICATIONS_PER_MINUTE: '3',
        RATE_LIMIT_BUILDS_PER_MINUTE: '2',
        MAX_CONCURRENT_UPLOADS_PER_CALLER: '0',
      }).rateLimits,
    ).toEqual({ perMinute: { uploads: 0, signatures: 5, verifications: 3, builds: 2 }, maxConcurrentUploads: 0 });
    expect(problemsOf({ RATE_LIMIT_VERIFICATIONS_PER_MINUTE: '-1', MAX_CONCURRENT_UPLOADS_PER_CALLER: '2.5' })).toEqual([
      { variable: 'RATE_LIMIT_VERIFICATIONS_PER_MINUTE', message: 'must be a whole number' },
      { variable: 'MAX_CONCURRENT_UPLOADS_PER_CALLER', message: 'must be a whole number' },
    ]);
  });

  it('admits no OIDC token by default, and reads the trusted-publisher settings', () => {
    expect(loadConfig({}).auth.trustedPublishers).toEqual({ file: undefined, audience: 'wasm-signer', issuerTimeoutMs: 5_000 });
    expect(loadConfig({ TRUSTED_PUBLISHERS_FILE: 'rules.json', OIDC_AUDIENCE: 'https://signer.example', OIDC_ISSUER_TIMEOUT_MS: '2000' }).auth.trustedPublishers).toEqual({
      file: resolve('rules.json'),
      audience: 'https://signer.example',
      issuerTimeoutMs: 2_000,
    });
    expect(problemsOf({ OIDC_AUDIENCE: 'two words', OIDC_ISSUER_TIMEOUT_MS: '5' })).toEqual([
      { variable: 'OIDC_AUDIENCE', message: 'must be printable ASCII without spaces' },
      { variable: 'OIDC_ISSUER_TIMEOUT_MS', message: 'must be at least 100' },
    ]);
  });

  it('documents every variable in the README table', () => {
    const readme = readFileSync(resolve(__dirname, '../../README.md'), 'utf8');
    for (const variable of CONFIG_VARIABLES) {
      expect(readme).toContain(`| \`${variable.name}\` |`);
    }
  });
});
