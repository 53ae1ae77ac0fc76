import { readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { AddressAllowlist, WebhookAllowlist } from '../common/address-policy';
import { HostPatterns } from '../common/host-patterns';
import { SECRET_KEY_BYTES, SECRET_KEY_ID, SecretBox, type SecretKey } from '../common/secret-box';
import { ConfigError } from './config-error';

/**
 * Every environment variable the service reads, in one place. `describeConfig()` feeds the README table
 * and the test that keeps the two in step. Pure: takes an environment, returns a typed config or throws
 * a ConfigError that names each bad variable.
 */

export type Role = 'all' | 'api' | 'worker';

export interface AppConfig {
  role: Role;
  http: {
    host: string;
    port: number;
    bodyLimitBytes: number;
    /** Time limits on what a client sends: headers, silence within the body, the whole request. */
    timeouts: { headersMs: number; bodyIdleMs: number; requestMs: number };
  };
  /** CORS_ALLOWED_ORIGINS: browser origins allowed to call the API; empty: CORS is off. */
  cors: { allowedOrigins: string[] };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Local state: the embedded database (when no DATABASE_URL) and the TUF cache. */
  dataDir: string;
  database: { kind: 'postgres'; url: string; poolSize: number } | { kind: 'pglite'; dataDir: string };
  /** SECRET_ENCRYPTION_KEYS: seals secrets kept in the database (the first key) and opens them (any key); undefined when none is set. */
  secretBox: SecretBox | undefined;
  redis: { url: string };
  queues: {
    prefix: string;
    workerConcurrency: number;
    lockDurationMs: number;
    /** STEP_MAX_ATTEMPTS: tries per step before a transient failure fails the job. */
    stepMaxAttempts: number;
    /** STEP_RETRY_BASE_MS: ceiling of the first retry delay; it doubles per retry (capped at 60 s). */
    stepRetryBaseMs: number;
    completedRetentionSeconds: number;
    completedRetentionCount: number;
    failedRetentionSeconds: number;
    failedRetentionCount: number;
    /** ENQUEUE_SWEEP_INTERVAL_MS: how often a worker looks for jobs recorded but never enqueued. */
    enqueueSweepIntervalMs: number;
    /** ENQUEUE_SWEEP_GRACE_MS: how old such a job must be before the sweeper enqueues it. */
    enqueueSweepGraceMs: number;
  };
  shutdownTimeoutMs: number;
  admin: { password: string | undefined };
  instanceId: string;
  uploads: { maxBytes: number };
  /** Per-caller budgets, counted in Redis across API replicas; 0 turns a limit off. */
  rateLimits: {
    /** RATE_LIMIT_<CATEGORY>_PER_MINUTE: requests a caller may make per minute, by route category. */
    perMinute: { uploads: number; signatures: number; verifications: number; builds: number };
    /** MAX_CONCURRENT_UPLOADS_PER_CALLER: uploads one caller may have in progress at once. */
    maxConcurrentUploads: number;
  };
  registry: {
    insecureHosts: string[];
    credentials: Record<string, { username: string; password: string }>;
    dockerConfigDir: string | undefined;
    timeoutMs: number;
    /** REGISTRY_ALLOWED_HOSTS: `host[:port]` patterns of the registries callers may name; empty: any. */
    allowedHosts: string[];
    /** REGISTRY_PRIVATE_ALLOWLIST: host names and CIDR ranges registries may be at although internal. */
    privateAllowlist: string[];
  };
  signing: {
    formats: SignatureFormatName[];
    /** SIGNING_CERTIFICATE_SCOPE: one Fulcio certificate per job step (`job`) or per signature. */
    certificateScope: SigningCertificateScope;
    signingConfigFile: string | undefined;
    fulcioUrl: string | undefined;
    rekorUrl: string | undefined;
    tsaUrl: string | undefined;
    /** SIGSTORE_TIMEOUT_MS: one request to Fulcio, Rekor or the TSA gives up after this. */
    timeoutMs: number;
    trustedRootFile: string | undefined;
  };
  verification: {
    /** TRUST_ROOTS: trusted roots verification requests may name, besides `public-good` and `default`. */
    trustRoots: { name: string; file: string }[];
    /** How the public-good root is fetched through TUF and kept current. */
    tuf: {
      /** SIGSTORE_TUF_MIRROR_URL: a mirror of the public-good TUF repository. */
      mirrorUrl: string;
      /** SIGSTORE_TUF_TIMEOUT_SECONDS: one TUF update gives up after this (the last good root stands in). */
      timeoutMs: number;
      /** SIGSTORE_TUF_RETRY_MAX_SECONDS: the longest wait between two tries while the root is stale. */
      retryMaxMs: number;
      /** SIGSTORE_TUF_REFRESH_INTERVAL_SECONDS: how often a fresh root is fetched again; 0: never. */
      refreshIntervalMs: number;
    };
    /** How long verdicts of POST /v1/verifications and tag resolutions are reused in each process. */
    cache: {
      /** VERIFICATION_CACHE_TTL_SECONDS: a verified verdict. */
      ttlSeconds: number;
      /** VERIFICATION_CACHE_FAILED_TTL_SECONDS: a verdict that is not verified. */
      failedTtlSeconds: number;
      /** VERIFICATION_CACHE_MAX_ENTRIES: verdicts (and, separately, tag resolutions) kept; 0: no cache. */
      maxEntries: number;
      /** TAG_RESOLUTION_CACHE_TTL_SECONDS: a tag's digest; 0: resolved every time. */
      tagTtlSeconds: number;
    };
    /** ADMISSION_POLICY_FILE: the cluster's admission policy (JSON); undefined: POST /v1/admission answers 503. */
    admissionPolicyFile: string | undefined;
    /** Where sigstore-js runs: a pool of worker threads in each process. */
    threads: {
      /** VERIFICATION_THREADS: worker threads (`auto`: one per core, at most 8); 0: on the event loop. */
      count: number;
      /** VERIFICATION_THREAD_TIMEOUT_MS: a bundle verification still running after this stops its thread and fails. */
      taskTimeoutMs: number;
      /** VERIFICATION_QUEUE_MAX: verifications waiting for a thread before more are refused (503 VERIFICATION_BUSY). */
      maxQueue: number;
    };
    /** ADMISSION_POLICY_CHECK_INTERVAL_SECONDS: how often the policy file is read again besides on filesystem events. */
    admissionPolicyCheckIntervalSeconds: number;
  };
  identity:
    | { provider: 'token-file'; tokenFile: string }
    | { provider: 'github-actions'; requestUrl: string; requestToken: string }
    | { provider: 'gcp-metadata'; metadataUrl: string }
    | { provider: 'static'; token: string };
  auth: {
    /** BOOTSTRAP_ADMIN_API_KEY: an admin credential from configuration (at least 32 characters). */
    bootstrapAdminKey: string | undefined;
    /** API_KEY_DEFAULT_TTL_DAYS / API_KEY_MAX_TTL_DAYS: lifetime of new API keys. */
    apiKeyDefaultTtlDays: number;
    apiKeyMaxTtlDays: number;
    /** API_KEY_CACHE_TTL_SECONDS: how long a looked-up API key is reused by a process (0: looked up on every request). */
    apiKeyCacheTtlSeconds: number;
    /** CI and workload OIDC tokens admitted by rules (src/auth/trusted-publisher-rules.ts). */
    trustedPublishers: {
      /** TRUSTED_PUBLISHERS_FILE: the JSON rules; undefined: no token is admitted. */
      file: string | undefined;
      /** OIDC_AUDIENCE: what `aud` must hold, unless a rule names its own audience. */
      audience: string;
      /** OIDC_ISSUER_TIMEOUT_MS: each fetch of an issuer's discovery document or JWKS. */
      issuerTimeoutMs: number;
    };
  };
  metrics: {
    /** METRICS_REQUIRE_AUTH: /metrics needs a credential with the scope metrics:read. */
    requireAuth: boolean;
  };
  builds: {
    /** BUILD_WORKER: whether this process's workers take build steps: `off`, `also` (besides every other step) or `only`. */
    worker: 'off' | 'also' | 'only';
    /** BUILD_WORK_DIR: where each build gets its fresh work directory. */
    workDir: string;
    /** BUILD_RUST_TOOLCHAIN_PREFIX: the Rust toolchain mounted read-only into the sandbox (`<prefix>/bin/cargo`). */
    rustToolchainPrefix: string;
    /** Limits of one build in its sandbox. */
    limits: { wallTimeMs: number; cpuSeconds: number; memoryBytes: number; maxProcesses: number; maxLogBytes: number; maxWorkDirBytes: number; maxOutputBytes: number };
    /** Limits on an uploaded source archive (checked before the job is accepted, and again when unpacked). */
    source: { maxArchiveBytes: number; maxUnpackedBytes: number; maxFiles: number; maxCompressionRatio: number };
    git: {
      /** BUILD_GIT_ALLOWED_HOSTS: `host[:port]` patterns of git servers builds may fetch from; empty: git sources are off. */
      allowedHosts: string[];
      /** BUILD_GIT_PRIVATE_ALLOWLIST: host names and CIDR ranges git servers may be at although internal. */
      privateAllowlist: string[];
      timeoutMs: number;
      maxBytes: number;
    };
  };
  webhooks: {
    /** WEBHOOK_ALLOWLIST: host names and CIDR ranges that may be private and plain HTTP. */
    allowlist: string[];
    callbackSecret: string | undefined;
    retryBaseMs: number;
    /** WEBHOOK_DISABLE_AFTER_FAILURES: failed deliveries in a row that disable a subscription; 0 never. */
    disableAfterFailures: number;
    connectTimeoutMs: number;
    responseTimeoutMs: number;
  };
}

export type SignatureFormatName = 'cosign-classic' | 'sigstore-bundle';
export const SIGNATURE_FORMAT_NAMES: readonly SignatureFormatName[] = ['cosign-classic', 'sigstore-bundle'];
/** Whether the signatures of one job step share a Fulcio certificate (`job`) or each get their own (`signature`). */
export type SigningCertificateScope = 'job' | 'signature';
export const SIGNING_CERTIFICATE_SCOPES = ['job', 'signature'] as const satisfies readonly SigningCertificateScope[];

interface VariableDoc {
  name: string;
  default: string;
  meaning: string;
  secret?: boolean;
}

/** The documented variables, in README order. */
export const CONFIG_VARIABLES: readonly VariableDoc[] = [
  { name: 'ROLE', default: 'all', meaning: 'Which part runs in this process: `api` (HTTP only), `worker` (queue workers, plus health and metrics over HTTP) or `all` (both).' },
  { name: 'HOST', default: '0.0.0.0', meaning: 'Address the HTTP server listens on.' },
  { name: 'PORT', default: '3000', meaning: 'Port the HTTP server listens on.' },
  { name: 'HTTP_BODY_LIMIT_BYTES', default: '1048576', meaning: 'Largest JSON request body accepted.' },
  { name: 'HTTP_HEADERS_TIMEOUT_MS', default: '10000', meaning: 'Time a client has to send the request line and headers; then it gets 408 and the connection is closed.' },
  {
    name: 'HTTP_BODY_IDLE_TIMEOUT_MS',
    default: '20000',
    meaning:
      'Longest silence allowed while a request body is arriving (a client that stalls, or sent a Content-Length larger than its body); then it gets 408, the connection is closed and a partial upload is discarded. Keep it below `REGISTRY_TIMEOUT_MS`.',
  },
  {
    name: 'HTTP_REQUEST_TIMEOUT_MS',
    default: '900000',
    meaning: 'Time a client has to send the whole request, body included (15 minutes: a 100 MiB upload at 1 Mbit/s); then 408.',
  },
  {
    name: 'CORS_ALLOWED_ORIGINS',
    default: '(none: CORS off)',
    meaning:
      'Comma-separated browser origins (`https://console.example.com`, exact scheme, host and port) allowed to call the API from their pages (CORS). Unset: no CORS headers, so browsers refuse cross-origin calls.',
  },
  { name: 'LOG_LEVEL', default: 'info', meaning: 'pino log level: fatal, error, warn, info, debug, trace or silent.' },
  { name: 'DATABASE_URL', default: '(unset)', meaning: 'PostgreSQL connection URL. Unset: an embedded PGlite database under `DATA_DIR` (single process).', secret: true },
  { name: 'DATABASE_POOL_SIZE', default: '10', meaning: 'Connections in the PostgreSQL pool.' },
  {
    name: 'SECRET_ENCRYPTION_KEYS',
    default: '(unset)',
    meaning:
      'Keys that encrypt the secrets kept in the database (webhook subscription secrets) with AES-256-GCM: comma-separated `<keyId>:<base64 of 32 bytes>`, the key id 1-32 letters, digits, `-` or `_` (make a key with `openssl rand -base64 32`). The first key encrypts, every listed key decrypts: see [Secrets at rest](#secrets-at-rest) for rotation. Unset: creating a subscription or rotating its secret is refused (422 `SECRET_ENCRYPTION_KEY_MISSING`); everything else works.',
    secret: true,
  },
  {
    name: 'DATA_DIR',
    default: './data',
    meaning:
      'Directory of local state: the embedded PGlite database (`pglite/`, used when `DATABASE_URL` is unset), the TUF cache of the public-good trust root (`tuf-cache/`) and its last good copy (`trust/public-good-trusted-root.json`).',
  },
  { name: 'REDIS_URL', default: 'redis://127.0.0.1:6379', meaning: 'Redis holding the job queues (`redis://` or `rediss://`).', secret: true },
  { name: 'QUEUE_PREFIX', default: 'wasm-signer', meaning: 'Prefix of every queue key in Redis; separates deployments sharing one Redis.' },
  { name: 'WORKER_CONCURRENCY', default: '4', meaning: 'Jobs each queue worker runs at once.' },
  { name: 'STEP_MAX_ATTEMPTS', default: '8', meaning: 'Tries per pipeline step: a step failing transiently (a dependency down, HTTP 5xx or 429) fails its job after this many.' },
  {
    name: 'STEP_RETRY_BASE_MS',
    default: '1000',
    meaning:
      'Delay before the first step retry (half to all of it, at random); each further retry waits up to twice as long, at most 60 s. A `Retry-After` of the dependency that failed wins: one from the registry, or one Fulcio, Rekor or the TSA sent with a 429 or 503 (their requests are first tried 3 times inside sigstore-js).',
  },
  {
    name: 'WORKER_LOCK_DURATION_MS',
    default: '30000',
    meaning: 'How long a worker holds a job without renewing its lock; a job whose worker died is taken over by another worker after about this long.',
  },
  { name: 'JOB_RETENTION_COMPLETED_SECONDS', default: '86400', meaning: 'Completed queue jobs are trimmed from Redis after this age…' },
  { name: 'JOB_RETENTION_COMPLETED_COUNT', default: '1000', meaning: '…or beyond this many per queue. Job records stay in the database.' },
  { name: 'JOB_RETENTION_FAILED_SECONDS', default: '604800', meaning: 'Failed queue jobs are kept in Redis this long…' },
  { name: 'JOB_RETENTION_FAILED_COUNT', default: '10000', meaning: '…and at most this many per queue.' },
  {
    name: 'ENQUEUE_SWEEP_INTERVAL_MS',
    default: '10000',
    meaning:
      'How often each worker looks for work missing from the queues and enqueues it: jobs recorded but never enqueued (the API died or lost Redis between the two writes), unfinished jobs whose queue entries Redis lost (restarted without persistence, or its AOF lost its last second), pending webhook deliveries without a queue job. One worker of a deployment sweeps at a time; re-enqueueing is idempotent.',
  },
  {
    name: 'ENQUEUE_SWEEP_GRACE_MS',
    default: '30000',
    meaning:
      'Age a job recorded but not enqueued must reach before the sweeper enqueues it (longer than an API takes to enqueue a job it has just recorded), and how long an unfinished job must be unchanged, with no worker saying it runs its current step (workers say so every third of this), before the sweeper checks that the step is still in its queue.',
  },
  {
    name: 'SHUTDOWN_TIMEOUT_MS',
    default: '30000',
    meaning: 'On SIGTERM, how long active jobs may run to completion before the process exits anyway (they are then retried by another worker).',
  },
  {
    name: 'ADMIN_PASSWORD',
    default: '(unset)',
    meaning: 'Password (user `admin`) protecting the queue dashboard at `/admin/queues`. Unset: the dashboard is not served.',
    secret: true,
  },
  { name: 'INSTANCE_ID', default: 'hostname:pid', meaning: 'Name of this process in logs, metrics and job records.' },
  { name: 'MAX_UPLOAD_BYTES', default: '268435456', meaning: 'Largest .wasm accepted by `POST /v1/artifacts` (larger uploads get 413).' },
  {
    name: 'RATE_LIMIT_UPLOADS_PER_MINUTE',
    default: '60',
    meaning: 'Uploads (`POST /v1/artifacts`) one caller may start per minute, counted across all API processes sharing Redis; more get 429 `RATE_LIMITED`. 0: no limit.',
  },
  { name: 'RATE_LIMIT_SIGNATURES_PER_MINUTE', default: '120', meaning: 'Sign requests (`POST /v1/signatures`) one caller may make per minute; 0: no limit.' },
  {
    name: 'RATE_LIMIT_VERIFICATIONS_PER_MINUTE',
    default: '600',
    meaning: 'Verifications (`POST /v1/verifications`, `POST /v1/verifications/bundle`, one budget for both) one caller may request per minute; 0: no limit.',
  },
  { name: 'RATE_LIMIT_BUILDS_PER_MINUTE', default: '10', meaning: 'Builds (`POST /v1/builds`) one caller may request per minute; 0: no limit.' },
  {
    name: 'MAX_CONCURRENT_UPLOADS_PER_CALLER',
    default: '4',
    meaning: 'Uploads one caller may have in progress at once, across all API processes; one more gets 429 `TOO_MANY_CONCURRENT_UPLOADS`. 0: no limit.',
  },
  { name: 'REGISTRY_INSECURE_HOSTS', default: '(none)', meaning: 'Comma-separated `host[:port]` of registries spoken to over plain HTTP. All others use HTTPS.' },
  {
    name: 'REGISTRY_CREDENTIALS',
    default: '(none)',
    meaning: 'Per-registry credentials as JSON: `{"host[:port]": {"username": "…", "password": "…"}}`. Checked before the Docker config.',
    secret: true,
  },
  { name: 'DOCKER_CONFIG', default: '~/.docker', meaning: 'Directory of a Docker `config.json` whose `auths` give registry credentials (no credential helpers).' },
  {
    name: 'REGISTRY_TIMEOUT_MS',
    default: '30000',
    meaning: 'Timeout of one registry request (uploads stream without it, but stop when no byte moves for this long); past it the request answers 504 `REGISTRY_TIMEOUT`.',
  },
  {
    name: 'REGISTRY_ALLOWED_HOSTS',
    default: '(any host)',
    meaning:
      'Comma-separated `host[:port]` patterns of the registries callers may name in a repository or reference: `registry.example.com` (any port), `registry.example.com:5000`, `*.example.com` (hosts under it). Another registry is refused (403 `REGISTRY_NOT_ALLOWED`) before any connection. Redirects and token services a registry names are not matched against it, but do obey `REGISTRY_PRIVATE_ALLOWLIST`.',
  },
  {
    name: 'REGISTRY_PRIVATE_ALLOWLIST',
    default: '(none)',
    meaning:
      'Comma-separated host names and addresses or CIDR ranges (like `WEBHOOK_ALLOWLIST`) that registries, their token services and their storage redirects may be at although they are loopback, private, link-local, cloud metadata or otherwise internal. Every other connection is checked on the address the name resolved to, when it is made, and refused (403 `REGISTRY_ADDRESS_REFUSED`).',
  },
  {
    name: 'SIGNATURE_FORMATS',
    default: 'cosign-classic,sigstore-bundle',
    meaning: 'Which signatures each artifact gets: the cosign classic `.sig` tag, the Sigstore bundle referrer, or both.',
  },
  {
    name: 'SIGNING_CERTIFICATE_SCOPE',
    default: 'job',
    meaning:
      'How many Fulcio certificates signing asks for: `job` (the signatures of one job step, the classic `.sig` and the bundle, share one identity token, one ephemeral key held in memory for that step, and one certificate; a new one is fetched when it would expire within 2 minutes) or `signature` (a fresh token, key and certificate per signature). Each signature still gets its own Rekor entry.',
  },
  { name: 'SIGSTORE_SIGNING_CONFIG_FILE', default: '(unset)', meaning: 'A Sigstore `signing_config.json` (v0.2) naming the Fulcio, Rekor and TSA URLs.' },
  { name: 'SIGSTORE_FULCIO_URL', default: 'https://fulcio.sigstore.dev', meaning: 'Fulcio URL; overrides the signing config.' },
  { name: 'SIGSTORE_REKOR_URL', default: 'https://rekor.sigstore.dev', meaning: 'Rekor (v1 API) URL; overrides the signing config.' },
  { name: 'SIGSTORE_TSA_URL', default: '(none)', meaning: 'RFC 3161 timestamp authority URL; when set every signature is also timestamped. Overrides the signing config.' },
  {
    name: 'SIGSTORE_TIMEOUT_MS',
    default: '30000',
    meaning:
      'Timeout of one request to Fulcio, Rekor or the TSA while signing. sigstore-js tries each request 3 times; when all fail the sign step is retried (`STEP_MAX_ATTEMPTS`) with `FULCIO_UNREACHABLE`, `REKOR_UNREACHABLE` or `TSA_UNREACHABLE`.',
  },
  {
    name: 'SIGSTORE_TRUSTED_ROOT_FILE',
    default: '(public-good via TUF)',
    meaning: 'A Sigstore `trusted_root.json` to verify signatures with (bundles are verified before they are attached).',
  },
  {
    name: 'SIGSTORE_TUF_MIRROR_URL',
    default: 'https://tuf-repo-cdn.sigstore.dev',
    meaning:
      'Where the public-good trusted root is fetched through TUF: the public-good TUF repository or a mirror of it (same signed metadata, checked from the TUF root embedded in `@sigstore/tuf`).',
  },
  {
    name: 'SIGSTORE_TUF_TIMEOUT_SECONDS',
    default: '10',
    meaning:
      'How long one TUF update of the public-good root may take (each request at most 5 s). When it fails or takes longer, the last good copy (`$DATA_DIR/trust/public-good-trusted-root.json`), else the copy embedded in `@sigstore/tuf`, is used and reported `stale` (see [Offline start](#offline-start-and-the-last-good-trust-root)).',
  },
  {
    name: 'SIGSTORE_TUF_RETRY_MAX_SECONDS',
    default: '300',
    meaning: 'While the public-good root is stale, TUF is tried again in the background after 30 s, then after twice as long each time, at most this long.',
  },
  {
    name: 'SIGSTORE_TUF_REFRESH_INTERVAL_SECONDS',
    default: '86400',
    meaning: 'How often a public-good root fetched through TUF is fetched again (trust roots rotate). `0`: only while stale.',
  },
  {
    name: 'TRUST_ROOTS',
    default: '(none)',
    meaning:
      'Further trusted roots verification requests may name, comma-separated `name=path/to/trusted_root.json`. Always there: `public-good` (Sigstore public-good, through TUF, fetched on first use, or at start when a last good copy is on disk) and `default` (`SIGSTORE_TRUSTED_ROOT_FILE`, else public-good).',
  },
  {
    name: 'VERIFICATION_CACHE_TTL_SECONDS',
    default: '300',
    meaning:
      'How long a verified verdict of `POST /v1/verifications` is reused by the process that computed it, for the same manifest digest, repository, whole policy and trust root (its name and content). A signature or attestation this service attaches drops the verdicts on that digest in every process (over Redis). A request may ask for a younger verdict with `maxAge` (`0`: a live check).',
  },
  {
    name: 'VERIFICATION_CACHE_FAILED_TTL_SECONDS',
    default: '10',
    meaning: 'How long a verdict that is not verified is reused: briefly, so a signature attached by another signer is seen soon.',
  },
  {
    name: 'VERIFICATION_CACHE_MAX_ENTRIES',
    default: '1000',
    meaning: 'Verdicts each process keeps (least recently used dropped first), and as many tag resolutions; 0: no cache.',
  },
  {
    name: 'VERIFICATION_THREADS',
    default: 'auto',
    meaning:
      'Worker threads each process verifies Sigstore bundles on (certificate chain, SCTs, Rekor entries, timestamps), so that its event loop only does I/O. `auto`: one per core the process may use, at most 8; `0`: on the event loop, one verification per turn.',
  },
  {
    name: 'VERIFICATION_THREAD_TIMEOUT_MS',
    default: '30000',
    meaning: 'A bundle verification still running after this long stops its thread (a new one replaces it) and the signature is answered as not verified (`VERIFIER_FAILED`).',
  },
  {
    name: 'VERIFICATION_QUEUE_MAX',
    default: '10000',
    meaning: 'Bundle verifications that may wait for a thread in each process; beyond it requests are answered 503 `VERIFICATION_BUSY` with `Retry-After`.',
  },
  {
    name: 'TAG_RESOLUTION_CACHE_TTL_SECONDS',
    default: '10',
    meaning: 'How long a verification reuses the digest a tag resolved to (a tag can move at any time); 0: resolved on every request.',
  },
  {
    name: 'ADMISSION_POLICY_FILE',
    default: '(unset)',
    meaning:
      'JSON policy of the Kubernetes admission webhook `POST /v1/admission`: `{"images":[{"pattern":"registry.example/team/**","policy":{…as POST /v1/verifications…},"trustRoot":"default"}]}`, the first matching pattern judging an image (see docs/kubernetes/admission.md). Read and checked at start: a bad rule stops the process. Read again when it changes (a Kubernetes ConfigMap mount included): a changed file that is not valid leaves the last good policy in force, and `/health/ready` and the metric `wasm_signer_admission_policy_rejected` say so. Unset: the webhook answers 503 `ADMISSION_POLICY_MISSING`, so a cluster pointed at it fails closed.',
  },
  {
    name: 'ADMISSION_POLICY_CHECK_INTERVAL_SECONDS',
    default: '10',
    meaning:
      'How often `ADMISSION_POLICY_FILE` is read again (and compared by content) besides when a filesystem event in its directory says it changed: the longest a change missed by those events goes unnoticed.',
  },
  {
    name: 'IDENTITY_PROVIDER',
    default: 'token-file',
    meaning: 'Where workers get their workload-identity OIDC token: `token-file`, `github-actions`, `gcp-metadata` or `static`.',
  },
  {
    name: 'IDENTITY_TOKEN_FILE',
    default: '/var/run/sigstore/cosign/oidc-token',
    meaning: 'Token file re-read for every signature (Kubernetes projected service-account token with `audience: sigstore`, SPIFFE JWT-SVID).',
  },
  { name: 'IDENTITY_TOKEN', default: '(unset)', meaning: 'The token for `IDENTITY_PROVIDER=static` (development only: it is never refreshed).', secret: true },
  { name: 'ACTIONS_ID_TOKEN_REQUEST_URL', default: '(set by GitHub)', meaning: 'GitHub Actions OIDC endpoint, for `IDENTITY_PROVIDER=github-actions`.' },
  { name: 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', default: '(set by GitHub)', meaning: 'Bearer token for that endpoint.', secret: true },
  { name: 'GCP_METADATA_URL', default: 'http://metadata.google.internal', meaning: 'GCP metadata server, for `IDENTITY_PROVIDER=gcp-metadata`.' },
  {
    name: 'BOOTSTRAP_ADMIN_API_KEY',
    default: '(unset)',
    meaning:
      'An admin credential from configuration, any value of at least 32 characters (`openssl rand -base64 32`): sent as `Authorization: Bearer <value>`, it holds every scope in every repository. Use it to create API keys (`POST /v1/api-keys`), then keep it locked away. Unset: only API keys and trusted-publisher tokens authenticate.',
    secret: true,
  },
  { name: 'API_KEY_DEFAULT_TTL_DAYS', default: '90', meaning: 'Lifetime of a new API key created without `expiresAt`.' },
  { name: 'API_KEY_MAX_TTL_DAYS', default: '400', meaning: 'Longest lifetime an API key may be given.' },
  {
    name: 'API_KEY_CACHE_TTL_SECONDS',
    default: '10',
    meaning:
      'How long a process reuses an API key it looked up (its scopes, repositories, expiry), instead of reading the database on every request. A revocation reaches every process at once over Redis, and a process that is not listening to Redis looks every key up; this bounds how long a process that missed a revocation message could still accept the key. `0`: every request looks its key up.',
  },
  {
    name: 'METRICS_REQUIRE_AUTH',
    default: 'false',
    meaning: '`true`: `/metrics` needs `Authorization: Bearer` with a credential holding the scope `metrics:read` (health and the API documents stay open).',
  },
  {
    name: 'TRUSTED_PUBLISHERS_FILE',
    default: '(unset)',
    meaning:
      'JSON rules admitting CI and workload OIDC tokens (GitHub Actions, GitLab CI, Kubernetes) as callers: each maps an issuer and claims to scopes and repositories (see "CI and workload tokens"). Checked at start, re-read on the next request after a change; a changed file that is not valid refuses every token (503 `TRUSTED_PUBLISHER_RULES_INVALID`) until fixed. Unset: no token is admitted.',
  },
  {
    name: 'OIDC_AUDIENCE',
    default: 'wasm-signer',
    meaning: "The audience (`aud`) a caller's OIDC token must be minted for, unless its rule names another; tokens for other audiences are refused (401 `TOKEN_AUDIENCE_INVALID`).",
  },
  {
    name: 'OIDC_ISSUER_TIMEOUT_MS',
    default: '5000',
    meaning: "Timeout of each fetch of a token issuer's discovery document or JWKS; an issuer that does not answer in time gets the request 503 `OIDC_ISSUER_UNAVAILABLE`.",
  },
  {
    name: 'BUILD_WORKER',
    default: 'off',
    meaning:
      'Whether this process takes build jobs (it needs `bwrap` and the toolchains): `off`, `also` (builds and every other step) or `only` (a build node: builds only, no signing). Builds have their own queue, so they can run on separate nodes.',
  },
  {
    name: 'BUILD_WORK_DIR',
    default: '`$DATA_DIR/builds`',
    meaning: 'Where each build gets a fresh work directory (removed after the build, and at start when a crashed worker left one).',
  },
  {
    name: 'BUILD_RUST_TOOLCHAIN_PREFIX',
    default: '/usr',
    meaning: 'Install prefix of the Rust toolchain for the `cargo` builder (`<prefix>/bin/cargo`, `<prefix>/bin/rustc`), mounted read-only into the sandbox.',
  },
  { name: 'BUILD_TIMEOUT_MS', default: '600000', meaning: 'Wall time of one build; then its whole process tree is killed and the job fails with BUILD_LIMIT_EXCEEDED.' },
  { name: 'BUILD_CPU_SECONDS', default: '600', meaning: 'CPU time each process of a build may use (RLIMIT_CPU).' },
  { name: 'BUILD_MEMORY_BYTES', default: '4294967296', meaning: 'Memory (resident) the whole process tree of a build may use.' },
  { name: 'BUILD_MAX_PROCESSES', default: '256', meaning: 'Processes a build may run at once.' },
  { name: 'BUILD_MAX_LOG_BYTES', default: '1048576', meaning: 'Build log kept per job (the rest is counted and dropped).' },
  { name: 'BUILD_MAX_WORK_DIR_BYTES', default: '2147483648', meaning: 'Disk a build may fill in its work directory (sources, target directory, output).' },
  { name: 'BUILD_MAX_OUTPUT_BYTES', default: '268435456', meaning: 'Largest component a build may produce.' },
  { name: 'BUILD_SOURCE_MAX_BYTES', default: '67108864', meaning: 'Largest source archive `POST /v1/builds` accepts.' },
  { name: 'BUILD_SOURCE_MAX_UNPACKED_BYTES', default: '536870912', meaning: 'Bytes a source archive (or a git checkout) may unpack to.' },
  { name: 'BUILD_SOURCE_MAX_FILES', default: '50000', meaning: 'Entries (files, directories, links) a source archive may hold.' },
  { name: 'BUILD_SOURCE_MAX_COMPRESSION_RATIO', default: '200', meaning: 'Largest ratio of unpacked to archive bytes (a zip bomb is refused as it unpacks).' },
  {
    name: 'BUILD_GIT_ALLOWED_HOSTS',
    default: '(empty: git sources off)',
    meaning: '`host[:port]` patterns (as `REGISTRY_ALLOWED_HOSTS`) of git servers builds may fetch sources from, over HTTPS (or HTTP).',
  },
  {
    name: 'BUILD_GIT_PRIVATE_ALLOWLIST',
    default: '(empty)',
    meaning: 'Host names and CIDR ranges git servers may be at although their addresses are internal (loopback, private, link-local).',
  },
  { name: 'BUILD_GIT_TIMEOUT_MS', default: '120000', meaning: 'Time to fetch one commit from a git server.' },
  { name: 'BUILD_GIT_MAX_BYTES', default: '268435456', meaning: 'Bytes a git fetch may write before it is stopped.' },
  {
    name: 'WEBHOOK_ALLOWLIST',
    default: '(none)',
    meaning:
      'Comma-separated host names and addresses or CIDR ranges webhooks may reach although they are loopback, private, link-local or otherwise internal; allowlisted targets may also use plain HTTP. All other targets must be public HTTPS.',
  },
  {
    name: 'WEBHOOK_CALLBACK_SECRET',
    default: '(unset)',
    meaning:
      "Standard Webhooks secret (`whsec_` + base64 of at least 24 bytes) that signs deliveries to a job's `callbackUrl`. Unset: a request with a `callbackUrl` is refused (422 `CALLBACK_SECRET_MISSING`).",
    secret: true,
  },
  {
    name: 'WEBHOOK_RETRY_BASE_MS',
    default: '60000',
    meaning: 'Delay before the first webhook retry; each further retry waits twice as long (±20% jitter), 8 attempts in all (about two hours by default).',
  },
  {
    name: 'WEBHOOK_DISABLE_AFTER_FAILURES',
    default: '10',
    meaning:
      'Deliveries in a row to one subscription that fail (every attempt of each used up, or the target refused) before the subscription is disabled; a delivered one resets the count. `POST /v1/webhooks/{id}/enable` turns it back on. 0: never disabled for failures (a 410 Gone still disables).',
  },
  { name: 'WEBHOOK_CONNECT_TIMEOUT_MS', default: '5000', meaning: 'Timeout to connect to a webhook receiver.' },
  { name: 'WEBHOOK_RESPONSE_TIMEOUT_MS', default: '10000', meaning: 'Timeout for a webhook receiver to answer once connected.' },
];

/** Variables whose value may instead be read from a file named by `<NAME>_FILE`. */
export const SECRET_VARIABLES = CONFIG_VARIABLES.filter((v) => v.secret).map((v) => v.name);

type Env = Record<string, string | undefined>;

/** Reads `<NAME>_FILE` into `<NAME>` for secret variables; setting both is an error. */
function resolveSecretFiles(env: Env, problems: { variable: string; message: string }[]): Env {
  const resolved: Env = { ...env };
  for (const name of SECRET_VARIABLES) {
    const fileVariable = `${name}_FILE`;
    const path = env[fileVariable];
    if (path === undefined || path === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push({ variable: fileVariable, message: `set together with ${name}; set only one of them` });
      continue;
    }
    try {
      resolved[name] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      problems.push({ variable: fileVariable, message: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` });
    }
  }
  return resolved;
}

const emptyToUndefined = (value: unknown) => (value === '' ? undefined : value);
const integer = (min: number, max: number, fallback: number) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
      .optional()
      .transform((value) => value ?? fallback),
  );
const text = (fallback: string) => z.preprocess(emptyToUndefined, z.string().default(fallback));
const optionalText = () => z.preprocess(emptyToUndefined, z.string().optional());
const hasScheme = (protocols: string[]) => (value: string) => {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
};
const urlMessage = (protocols: string[]) => `must be a URL with scheme ${protocols.map((p) => p.replace(':', '://')).join(' or ')}`;
const optionalUrl = (protocols: string[]) => z.preprocess(emptyToUndefined, z.string().refine(hasScheme(protocols), urlMessage(protocols)).optional());
const urlWithDefault = (protocols: string[], fallback: string) => z.preprocess(emptyToUndefined, z.string().refine(hasScheme(protocols), urlMessage(protocols)).default(fallback));

/** A comma-separated list; `check` throws, with the message to show, on an entry it refuses. */
const list = (check: (entry: string) => unknown) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default('')
      .transform((value) =>
        value
          .split(',')
          .map((entry) => entry.trim())
          .filter(Boolean),
      )
      .superRefine((entries, ctx) => {
        for (const entry of entries) {
          try {
            check(entry);
          } catch (error) {
            ctx.addIssue({ code: 'custom', message: (error as Error).message });
          }
        }
      }),
  );

const schema = z.object({
  ROLE: z.preprocess(emptyToUndefined, z.enum(['all', 'api', 'worker'], 'must be one of all, api, worker').default('all')),
  HOST: text('0.0.0.0'),
  PORT: integer(0, 65535, 3000),
  HTTP_BODY_LIMIT_BYTES: integer(1024, 1024 * 1024 * 1024, 1024 * 1024),
  HTTP_HEADERS_TIMEOUT_MS: integer(100, 600_000, 10_000),
  HTTP_BODY_IDLE_TIMEOUT_MS: integer(100, 3_600_000, 20_000),
  HTTP_REQUEST_TIMEOUT_MS: integer(100, 24 * 3_600_000, 900_000),
  CORS_ALLOWED_ORIGINS: list((origin) => {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== origin) {
      throw new Error(`${origin} is not an origin: scheme://host[:port], with nothing after it (no path, no trailing slash)`);
    }
  }),
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'must be one of fatal, error, warn, info, debug, trace, silent').default('info'),
  ),
  DATABASE_URL: optionalUrl(['postgres:', 'postgresql:']),
  DATABASE_POOL_SIZE: integer(1, 1000, 10),
  SECRET_ENCRYPTION_KEYS: z.preprocess(emptyToUndefined, z.string().optional().transform(parseSecretEncryptionKeys)),
  DATA_DIR: text('./data'),
  REDIS_URL: urlWithDefault(['redis:', 'rediss:'], 'redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, dots, dashes or underscores')
      .default('wasm-signer'),
  ),
  WORKER_CONCURRENCY: integer(1, 1000, 4),
  WORKER_LOCK_DURATION_MS: integer(1_000, 3_600_000, 30_000),
  STEP_MAX_ATTEMPTS: integer(1, 100, 8),
  STEP_RETRY_BASE_MS: integer(1, 60_000, 1_000),
  JOB_RETENTION_COMPLETED_SECONDS: integer(0, 365 * 86400, 86400),
  JOB_RETENTION_COMPLETED_COUNT: integer(0, 10_000_000, 1000),
  JOB_RETENTION_FAILED_SECONDS: integer(0, 365 * 86400, 7 * 86400),
  ENQUEUE_SWEEP_INTERVAL_MS: integer(100, 3_600_000, 10_000),
  ENQUEUE_SWEEP_GRACE_MS: integer(0, 86_400_000, 30_000),
  JOB_RETENTION_FAILED_COUNT: integer(0, 10_000_000, 10_000),
  SHUTDOWN_TIMEOUT_MS: integer(0, 3_600_000, 30_000),
  ADMIN_PASSWORD: z.preprocess(emptyToUndefined, z.string().min(12, 'must be at least 12 characters').optional()),
  INSTANCE_ID: optionalText(),
  MAX_UPLOAD_BYTES: integer(1, 64 * 1024 * 1024 * 1024, 256 * 1024 * 1024),
  RATE_LIMIT_UPLOADS_PER_MINUTE: integer(0, 1_000_000, 60),
  RATE_LIMIT_SIGNATURES_PER_MINUTE: integer(0, 1_000_000, 120),
  RATE_LIMIT_VERIFICATIONS_PER_MINUTE: integer(0, 1_000_000, 600),
  RATE_LIMIT_BUILDS_PER_MINUTE: integer(0, 1_000_000, 10),
  MAX_CONCURRENT_UPLOADS_PER_CALLER: integer(0, 10_000, 4),
  REGISTRY_INSECURE_HOSTS: text(''),
  REGISTRY_CREDENTIALS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .transform((value, ctx) => {
        try {
          return JSON.parse(value) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be JSON' });
          return z.NEVER;
        }
      })
      .pipe(z.record(z.string(), z.object({ username: z.string(), password: z.string() }), 'must map host[:port] to {"username","password"}'))
      .optional(),
  ),
  DOCKER_CONFIG: optionalText(),
  REGISTRY_TIMEOUT_MS: integer(100, 600_000, 30_000),
  REGISTRY_ALLOWED_HOSTS: list((entry) => new HostPatterns([entry], 'REGISTRY_ALLOWED_HOSTS')),
  REGISTRY_PRIVATE_ALLOWLIST: list((entry) => new AddressAllowlist([entry], 'REGISTRY_PRIVATE_ALLOWLIST')),
  SIGNATURE_FORMATS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default('cosign-classic,sigstore-bundle')
      .transform((value) => [
        ...new Set(
          value
            .split(',')
            .map((f) => f.trim())
            .filter(Boolean),
        ),
      ])
      .pipe(z.array(z.enum(SIGNATURE_FORMAT_NAMES, 'each must be cosign-classic or sigstore-bundle')).min(1, 'must name at least one format')),
  ),
  SIGNING_CERTIFICATE_SCOPE: z.preprocess(emptyToUndefined, z.enum(SIGNING_CERTIFICATE_SCOPES, 'must be one of job, signature').default('job')),
  SIGSTORE_SIGNING_CONFIG_FILE: optionalText(),
  SIGSTORE_FULCIO_URL: optionalUrl(['https:', 'http:']),
  SIGSTORE_REKOR_URL: optionalUrl(['https:', 'http:']),
  SIGSTORE_TSA_URL: optionalUrl(['https:', 'http:']),
  SIGSTORE_TIMEOUT_MS: integer(100, 600_000, 30_000),
  SIGSTORE_TRUSTED_ROOT_FILE: optionalText(),
  TRUST_ROOTS: z.preprocess(emptyToUndefined, z.string().default('').transform(parseTrustRoots)),
  SIGSTORE_TUF_MIRROR_URL: urlWithDefault(['https:', 'http:'], 'https://tuf-repo-cdn.sigstore.dev'),
  SIGSTORE_TUF_TIMEOUT_SECONDS: integer(1, 600, 10),
  SIGSTORE_TUF_RETRY_MAX_SECONDS: integer(1, 86400, 300),
  SIGSTORE_TUF_REFRESH_INTERVAL_SECONDS: integer(0, 30 * 86400, 86400),
  VERIFICATION_CACHE_TTL_SECONDS: integer(0, 86400, 300),
  VERIFICATION_CACHE_FAILED_TTL_SECONDS: integer(0, 86400, 10),
  VERIFICATION_CACHE_MAX_ENTRIES: integer(0, 1_000_000, 1000),
  TAG_RESOLUTION_CACHE_TTL_SECONDS: integer(0, 86400, 10),
  ADMISSION_POLICY_FILE: optionalText(),
  VERIFICATION_THREADS: z.preprocess(
    (value) => (emptyToUndefined(value) === undefined || value === 'auto' ? String(Math.min(8, availableParallelism())) : value),
    z.string().regex(/^\d+$/, 'must be `auto` or a whole number').transform(Number).pipe(z.number().int().max(64, 'must be at most 64')),
  ),
  VERIFICATION_THREAD_TIMEOUT_MS: integer(1_000, 600_000, 30_000),
  VERIFICATION_QUEUE_MAX: integer(1, 1_000_000, 10_000),
  ADMISSION_POLICY_CHECK_INTERVAL_SECONDS: integer(1, 3600, 10),
  IDENTITY_PROVIDER: z.preprocess(
    emptyToUndefined,
    z.enum(['token-file', 'github-actions', 'gcp-metadata', 'static'], 'must be one of token-file, github-actions, gcp-metadata, static').default('token-file'),
  ),
  IDENTITY_TOKEN_FILE: text('/var/run/sigstore/cosign/oidc-token'),
  IDENTITY_TOKEN: optionalText(),
  ACTIONS_ID_TOKEN_REQUEST_URL: optionalUrl(['https:', 'http:']),
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: optionalText(),
  GCP_METADATA_URL: urlWithDefault(['http:', 'https:'], 'http://metadata.google.internal'),
  BOOTSTRAP_ADMIN_API_KEY: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .min(32, 'must be at least 32 characters (for example `openssl rand -base64 32`)')
      .max(512, 'must be at most 512 characters')
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces (it travels in an Authorization header)')
      .optional(),
  ),
  API_KEY_DEFAULT_TTL_DAYS: integer(1, 3650, 90),
  API_KEY_MAX_TTL_DAYS: integer(1, 3650, 400),
  API_KEY_CACHE_TTL_SECONDS: integer(0, 300, 10),
  METRICS_REQUIRE_AUTH: z.preprocess(emptyToUndefined, z.enum(['true', 'false'], 'must be true or false').default('false')),
  TRUSTED_PUBLISHERS_FILE: optionalText(),
  OIDC_AUDIENCE: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .max(256, 'must be at most 256 characters')
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
      .default('wasm-signer'),
  ),
  OIDC_ISSUER_TIMEOUT_MS: integer(100, 60_000, 5_000),
  BUILD_WORKER: z.preprocess(emptyToUndefined, z.enum(['off', 'also', 'only'], 'must be one of off, also, only').default('off')),
  BUILD_WORK_DIR: optionalText(),
  BUILD_RUST_TOOLCHAIN_PREFIX: text('/usr'),
  BUILD_TIMEOUT_MS: integer(1_000, 24 * 3_600_000, 600_000),
  BUILD_CPU_SECONDS: integer(1, 24 * 3600, 600),
  BUILD_MEMORY_BYTES: integer(64 * 1024 * 1024, 1024 * 1024 * 1024 * 1024, 4 * 1024 * 1024 * 1024),
  BUILD_MAX_PROCESSES: integer(8, 100_000, 256),
  BUILD_MAX_LOG_BYTES: integer(1024, 1024 * 1024 * 1024, 1024 * 1024),
  BUILD_MAX_WORK_DIR_BYTES: integer(1024 * 1024, 1024 * 1024 * 1024 * 1024, 2 * 1024 * 1024 * 1024),
  BUILD_MAX_OUTPUT_BYTES: integer(1024, 64 * 1024 * 1024 * 1024, 256 * 1024 * 1024),
  BUILD_SOURCE_MAX_BYTES: integer(1024, 64 * 1024 * 1024 * 1024, 64 * 1024 * 1024),
  BUILD_SOURCE_MAX_UNPACKED_BYTES: integer(1024, 1024 * 1024 * 1024 * 1024, 512 * 1024 * 1024),
  BUILD_SOURCE_MAX_FILES: integer(1, 10_000_000, 50_000),
  BUILD_SOURCE_MAX_COMPRESSION_RATIO: integer(1, 1_000_000, 200),
  BUILD_GIT_ALLOWED_HOSTS: list((entry) => new HostPatterns([entry], 'BUILD_GIT_ALLOWED_HOSTS')),
  BUILD_GIT_PRIVATE_ALLOWLIST: list((entry) => new AddressAllowlist([entry], 'BUILD_GIT_PRIVATE_ALLOWLIST')),
  BUILD_GIT_TIMEOUT_MS: integer(1_000, 3_600_000, 120_000),
  BUILD_GIT_MAX_BYTES: integer(1024 * 1024, 1024 * 1024 * 1024 * 1024, 256 * 1024 * 1024),
  WEBHOOK_ALLOWLIST: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default('')
      .transform((value) =>
        value
          .split(',')
          .map((h) => h.trim())
          .filter(Boolean),
      )
      .superRefine((entries, ctx) => {
        try {
          new WebhookAllowlist(entries);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
        }
      }),
  ),
  WEBHOOK_CALLBACK_SECRET: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .refine(
        (value) => /^whsec_[A-Za-z0-9+/]+={0,2}$/.test(value) && Buffer.from(value.slice(6), 'base64').length >= 24,
        'must be whsec_ followed by the base64 of at least 24 bytes',
      )
      .optional(),
  ),
  WEBHOOK_RETRY_BASE_MS: integer(10, 3_600_000, 60_000),
  WEBHOOK_DISABLE_AFTER_FAILURES: integer(0, 100_000, 10),
  WEBHOOK_CONNECT_TIMEOUT_MS: integer(100, 600_000, 5_000),
  WEBHOOK_RESPONSE_TIMEOUT_MS: integer(100, 600_000, 10_000),
});

/** `name=path,…` into named trust-root files; names are unique and `public-good`/`default` are taken. */
function parseTrustRoots(value: string, ctx: z.RefinementCtx): { name: string; file: string }[] {
  const roots: { name: string; file: string }[] = [];
  for (const item of value
    .split(',')
    .map((i) => i.trim())
    .filter(Boolean)) {
    const separator = item.indexOf('=');
    const name = separator > 0 ? item.slice(0, separator).trim() : '';
    const file = separator > 0 ? item.slice(separator + 1).trim() : '';
    if (!name || !file) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(item)} must be name=path/to/trusted_root.json` });
    else if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name))
      ctx.addIssue({ code: 'custom', message: `name ${JSON.stringify(name)} must be 1-63 lower-case letters, digits, dots, dashes or underscores` });
    else if (name === 'public-good' || name === 'default')
      ctx.addIssue({ code: 'custom', message: `name ${name} is reserved (public-good is Sigstore's root, default is SIGSTORE_TRUSTED_ROOT_FILE)` });
    else if (roots.some((r) => r.name === name)) ctx.addIssue({ code: 'custom', message: `name ${name} is given twice` });
    else roots.push({ name, file: resolve(file) });
  }
  return roots;
}

/**
 * `keyId:base64,…` into a SecretBox (the first key seals). Each bad entry is named by its position and key
 * id, never by its key material.
 */
function parseSecretEncryptionKeys(value: string | undefined, ctx: z.RefinementCtx): SecretBox | undefined {
  if (value === undefined) return undefined;
  const keys: SecretKey[] = [];
  const problem = (message: string) => ctx.addIssue({ code: 'custom', message });
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  entries.forEach((entry, index) => {
    const n = `entry ${index + 1}`;
    const separator = entry.indexOf(':');
    if (separator < 0) return problem(`${n} is not <keyId>:<base64 of ${SECRET_KEY_BYTES} bytes> (it has no ":")`);
    const id = entry.slice(0, separator).trim();
    const text = entry.slice(separator + 1).trim();
    if (!SECRET_KEY_ID.test(id)) return problem(`${n}: key id ${JSON.stringify(id.slice(0, 40))} must be 1-32 letters, digits, dashes or underscores`);
    if (keys.some((key) => key.id === id)) return problem(`${n}: key id ${id} is given twice`);
    const key = Buffer.from(text, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || key.toString('base64') !== text)
      return problem(`${n} (key id ${id}): the key is not base64 (as \`openssl rand -base64 32\` prints it)`);
    if (key.length !== SECRET_KEY_BYTES)
      return problem(`${n} (key id ${id}): the key is ${key.length} bytes; it must be ${SECRET_KEY_BYTES} (make one with \`openssl rand -base64 32\`)`);
    keys.push({ id, key });
  });
  if (entries.length === 0) problem(`names no key; set <keyId>:<base64 of ${SECRET_KEY_BYTES} bytes>, or leave it unset`);
  if (keys.length !== entries.length || keys.length === 0) return z.NEVER;
  return new SecretBox(keys);
}

export function loadConfig(env: Env = process.env): AppConfig {
  const problems: { variable: string; message: string }[] = [];
  const resolved = resolveSecretFiles(env, problems);
  const parsed = schema.safeParse(resolved);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push({ variable: String(issue.path[0] ?? '(environment)'), message: issue.message });
    }
  }
  if (parsed.success && !parsed.data.DATABASE_URL && parsed.data.ROLE !== 'all') {
    problems.push({
      variable: 'DATABASE_URL',
      message: `required when ROLE is ${parsed.data.ROLE}: the embedded database serves a single process (ROLE=all)`,
    });
  }
  if (parsed.success && parsed.data.HTTP_HEADERS_TIMEOUT_MS > parsed.data.HTTP_REQUEST_TIMEOUT_MS) {
    problems.push({ variable: 'HTTP_HEADERS_TIMEOUT_MS', message: 'must not be larger than HTTP_REQUEST_TIMEOUT_MS' });
  }
  if (parsed.success) problems.push(...identityProblems(parsed.data));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const v = parsed.data;
  return {
    role: v.ROLE,
    dataDir: resolve(v.DATA_DIR),
    http: {
      host: v.HOST,
      port: v.PORT,
      bodyLimitBytes: v.HTTP_BODY_LIMIT_BYTES,
      timeouts: { headersMs: v.HTTP_HEADERS_TIMEOUT_MS, bodyIdleMs: v.HTTP_BODY_IDLE_TIMEOUT_MS, requestMs: v.HTTP_REQUEST_TIMEOUT_MS },
    },
    cors: { allowedOrigins: v.CORS_ALLOWED_ORIGINS },
    logLevel: v.LOG_LEVEL,
    database: v.DATABASE_URL ? { kind: 'postgres', url: v.DATABASE_URL, poolSize: v.DATABASE_POOL_SIZE } : { kind: 'pglite', dataDir: join(resolve(v.DATA_DIR), 'pglite') },
    secretBox: v.SECRET_ENCRYPTION_KEYS,
    redis: { url: v.REDIS_URL },
    queues: {
      prefix: v.QUEUE_PREFIX,
      workerConcurrency: v.WORKER_CONCURRENCY,
      lockDurationMs: v.WORKER_LOCK_DURATION_MS,
      stepMaxAttempts: v.STEP_MAX_ATTEMPTS,
      stepRetryBaseMs: v.STEP_RETRY_BASE_MS,
      completedRetentionSeconds: v.JOB_RETENTION_COMPLETED_SECONDS,
      completedRetentionCount: v.JOB_RETENTION_COMPLETED_COUNT,
      failedRetentionSeconds: v.JOB_RETENTION_FAILED_SECONDS,
      failedRetentionCount: v.JOB_RETENTION_FAILED_COUNT,
      enqueueSweepIntervalMs: v.ENQUEUE_SWEEP_INTERVAL_MS,
      enqueueSweepGraceMs: v.ENQUEUE_SWEEP_GRACE_MS,
    },
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    admin: { password: v.ADMIN_PASSWORD },
    instanceId: v.INSTANCE_ID ?? `${hostname()}:${process.pid}`,
    uploads: { maxBytes: v.MAX_UPLOAD_BYTES },
    rateLimits: {
      perMinute: {
        uploads: v.RATE_LIMIT_UPLOADS_PER_MINUTE,
        signatures: v.RATE_LIMIT_SIGNATURES_PER_MINUTE,
        verifications: v.RATE_LIMIT_VERIFICATIONS_PER_MINUTE,
        builds: v.RATE_LIMIT_BUILDS_PER_MINUTE,
      },
      maxConcurrentUploads: v.MAX_CONCURRENT_UPLOADS_PER_CALLER,
    },
    registry: {
      insecureHosts: v.REGISTRY_INSECURE_HOSTS.split(',')
        .map((h) => h.trim())
        .filter(Boolean),
      credentials: v.REGISTRY_CREDENTIALS ?? {},
      dockerConfigDir: v.DOCKER_CONFIG,
      timeoutMs: v.REGISTRY_TIMEOUT_MS,
      allowedHosts: v.REGISTRY_ALLOWED_HOSTS,
      privateAllowlist: v.REGISTRY_PRIVATE_ALLOWLIST,
    },
    signing: {
      formats: v.SIGNATURE_FORMATS,
      certificateScope: v.SIGNING_CERTIFICATE_SCOPE,
      signingConfigFile: v.SIGSTORE_SIGNING_CONFIG_FILE,
      fulcioUrl: v.SIGSTORE_FULCIO_URL,
      rekorUrl: v.SIGSTORE_REKOR_URL,
      tsaUrl: v.SIGSTORE_TSA_URL,
      timeoutMs: v.SIGSTORE_TIMEOUT_MS,
      trustedRootFile: v.SIGSTORE_TRUSTED_ROOT_FILE,
    },
    verification: {
      trustRoots: v.TRUST_ROOTS,
      tuf: {
        // The mirror is named without a trailing slash, as @sigstore/tuf keys its seeds and cache.
        mirrorUrl: v.SIGSTORE_TUF_MIRROR_URL.replace(/\/+$/, ''),
        timeoutMs: v.SIGSTORE_TUF_TIMEOUT_SECONDS * 1000,
        retryMaxMs: v.SIGSTORE_TUF_RETRY_MAX_SECONDS * 1000,
        refreshIntervalMs: v.SIGSTORE_TUF_REFRESH_INTERVAL_SECONDS * 1000,
      },
      cache: {
        ttlSeconds: v.VERIFICATION_CACHE_TTL_SECONDS,
        failedTtlSeconds: v.VERIFICATION_CACHE_FAILED_TTL_SECONDS,
        maxEntries: v.VERIFICATION_CACHE_MAX_ENTRIES,
        tagTtlSeconds: v.TAG_RESOLUTION_CACHE_TTL_SECONDS,
      },
      admissionPolicyFile: v.ADMISSION_POLICY_FILE === undefined ? undefined : resolve(v.ADMISSION_POLICY_FILE),
      threads: { count: v.VERIFICATION_THREADS, taskTimeoutMs: v.VERIFICATION_THREAD_TIMEOUT_MS, maxQueue: v.VERIFICATION_QUEUE_MAX },
      admissionPolicyCheckIntervalSeconds: v.ADMISSION_POLICY_CHECK_INTERVAL_SECONDS,
    },
    identity: identityConfig(v),
    auth: {
      bootstrapAdminKey: v.BOOTSTRAP_ADMIN_API_KEY,
      apiKeyDefaultTtlDays: Math.min(v.API_KEY_DEFAULT_TTL_DAYS, v.API_KEY_MAX_TTL_DAYS),
      apiKeyMaxTtlDays: v.API_KEY_MAX_TTL_DAYS,
      apiKeyCacheTtlSeconds: v.API_KEY_CACHE_TTL_SECONDS,
      trustedPublishers: {
        file: v.TRUSTED_PUBLISHERS_FILE === undefined ? undefined : resolve(v.TRUSTED_PUBLISHERS_FILE),
        audience: v.OIDC_AUDIENCE,
        issuerTimeoutMs: v.OIDC_ISSUER_TIMEOUT_MS,
      },
    },
    metrics: { requireAuth: v.METRICS_REQUIRE_AUTH === 'true' },
    builds: {
      worker: v.BUILD_WORKER,
      workDir: v.BUILD_WORK_DIR === undefined ? join(resolve(v.DATA_DIR), 'builds') : resolve(v.BUILD_WORK_DIR),
      rustToolchainPrefix: resolve(v.BUILD_RUST_TOOLCHAIN_PREFIX),
      limits: {
        wallTimeMs: v.BUILD_TIMEOUT_MS,
        cpuSeconds: v.BUILD_CPU_SECONDS,
        memoryBytes: v.BUILD_MEMORY_BYTES,
        maxProcesses: v.BUILD_MAX_PROCESSES,
        maxLogBytes: v.BUILD_MAX_LOG_BYTES,
        maxWorkDirBytes: v.BUILD_MAX_WORK_DIR_BYTES,
        maxOutputBytes: v.BUILD_MAX_OUTPUT_BYTES,
      },
      source: {
        maxArchiveBytes: v.BUILD_SOURCE_MAX_BYTES,
        maxUnpackedBytes: v.BUILD_SOURCE_MAX_UNPACKED_BYTES,
        maxFiles: v.BUILD_SOURCE_MAX_FILES,
        maxCompressionRatio: v.BUILD_SOURCE_MAX_COMPRESSION_RATIO,
      },
      git: { allowedHosts: v.BUILD_GIT_ALLOWED_HOSTS, privateAllowlist: v.BUILD_GIT_PRIVATE_ALLOWLIST, timeoutMs: v.BUILD_GIT_TIMEOUT_MS, maxBytes: v.BUILD_GIT_MAX_BYTES },
    },
    webhooks: {
      allowlist: v.WEBHOOK_ALLOWLIST,
      callbackSecret: v.WEBHOOK_CALLBACK_SECRET,
      retryBaseMs: v.WEBHOOK_RETRY_BASE_MS,
      disableAfterFailures: v.WEBHOOK_DISABLE_AFTER_FAILURES,
      connectTimeoutMs: v.WEBHOOK_CONNECT_TIMEOUT_MS,
      responseTimeoutMs: v.WEBHOOK_RESPONSE_TIMEOUT_MS,
    },
  };
}

type ParsedEnv = z.infer<typeof schema>;

function identityProblems(v: ParsedEnv): { variable: string; message: string }[] {
  switch (v.IDENTITY_PROVIDER) {
    case 'static':
      return v.IDENTITY_TOKEN ? [] : [{ variable: 'IDENTITY_TOKEN', message: 'required when IDENTITY_PROVIDER is static' }];
    case 'github-actions':
      return [
        ...(v.ACTIONS_ID_TOKEN_REQUEST_URL
          ? []
          : [{ variable: 'ACTIONS_ID_TOKEN_REQUEST_URL', message: 'required when IDENTITY_PROVIDER is github-actions (grant the job `id-token: write`)' }]),
        ...(v.ACTIONS_ID_TOKEN_REQUEST_TOKEN ? [] : [{ variable: 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', message: 'required when IDENTITY_PROVIDER is github-actions' }]),
      ];
    default:
      return [];
  }
}

function identityConfig(v: ParsedEnv): AppConfig['identity'] {
  switch (v.IDENTITY_PROVIDER) {
    case 'static':
      return { provider: 'static', token: v.IDENTITY_TOKEN! };
    case 'github-actions':
      return { provider: 'github-actions', requestUrl: v.ACTIONS_ID_TOKEN_REQUEST_URL!, requestToken: v.ACTIONS_ID_TOKEN_REQUEST_TOKEN! };
    case 'gcp-metadata':
      return { provider: 'gcp-metadata', metadataUrl: v.GCP_METADATA_URL };
    default:
      return { provider: 'token-file', tokenFile: resolve(v.IDENTITY_TOKEN_FILE) };
  }
}
