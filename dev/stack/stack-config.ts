import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

/**
 * Configuration of the local supply-chain stack (development and tests only).
 *
 * Everything binds to 127.0.0.1. Ports, directories and the workload identity can be overridden through
 * `STACK_*` environment variables so that a second, private stack can run beside the shared one. In a
 * container the stack binds `STACK_LISTEN_HOST` (0.0.0.0) and names itself `STACK_PUBLIC_HOST` (the
 * compose service name) in its URLs, token issuer and trust files.
 */
export interface StackConfig {
  readonly repoRoot: string;
  /** Output directory (`STACK_DIR`, default `<repo>/.local`): trusted_root.json, signing_config.json, stack.env. */
  readonly outputDir: string;
  /** Private state (keys, Rekor log, token, registry data): `<outputDir>/stack`. */
  readonly stateDir: string;
  /** Address the servers bind (`STACK_LISTEN_HOST`, default 127.0.0.1). */
  readonly listenHost: string;
  /** Host name in every URL the stack hands out (`STACK_PUBLIC_HOST`, default 127.0.0.1). */
  readonly host: string;
  readonly ports: StackPorts;
  readonly registry: { readonly enabled: boolean; readonly binary?: string };
  readonly kubernetes: { readonly namespace: string; readonly serviceAccount: string };
  /** Lifetime of the tokens written to the token file. */
  readonly tokenTtlSeconds: number;
}

export interface StackPorts {
  readonly oidc: number;
  readonly fulcio: number;
  readonly rekor: number;
  readonly tsa: number;
  readonly registry: number;
}

export interface StackUrls {
  readonly oidcIssuer: string;
  readonly fulcio: string;
  readonly rekor: string;
  /** The TSA base URL. */
  readonly tsa: string;
  /** The full timestamp endpoint (what TSAWitness and signing configs take). */
  readonly tsaTimestamp: string;
  /** host:port of the OCI registry. */
  readonly registry: string;
}

export interface StackFiles {
  readonly trustedRoot: string;
  readonly signingConfig: string;
  readonly stackEnv: string;
  readonly tokenFile: string;
  readonly stackLog: string;
}

export const DEFAULT_PORTS: StackPorts = { oidc: 5550, fulcio: 5555, rekor: 5556, tsa: 5557, registry: 5000 };
export const TSA_TIMESTAMP_PATH = '/api/v1/timestamp';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export class StackConfigError extends Error {
  override readonly name = 'StackConfigError';
}

/** Reads the stack configuration from environment variables. */
export function stackConfigFromEnv(env: NodeJS.ProcessEnv = process.env, repoRoot = findRepoRoot()): StackConfig {
  const outputDir = env.STACK_DIR ? resolve(repoRoot, env.STACK_DIR) : join(repoRoot, '.local');
  const registrySetting = (env.STACK_REGISTRY ?? 'on').toLowerCase();
  if (!['on', 'off', 'true', 'false', '1', '0'].includes(registrySetting)) {
    throw new StackConfigError(`STACK_REGISTRY must be "on" or "off", got "${env.STACK_REGISTRY}"`);
  }
  return {
    repoRoot,
    outputDir,
    stateDir: join(outputDir, 'stack'),
    listenHost: env.STACK_LISTEN_HOST || '127.0.0.1',
    host: env.STACK_PUBLIC_HOST || '127.0.0.1',
    ports: {
      oidc: port(env, 'STACK_OIDC_PORT', DEFAULT_PORTS.oidc),
      fulcio: port(env, 'STACK_FULCIO_PORT', DEFAULT_PORTS.fulcio),
      rekor: port(env, 'STACK_REKOR_PORT', DEFAULT_PORTS.rekor),
      tsa: port(env, 'STACK_TSA_PORT', DEFAULT_PORTS.tsa),
      registry: port(env, 'STACK_REGISTRY_PORT', DEFAULT_PORTS.registry),
    },
    registry: {
      enabled: ['on', 'true', '1'].includes(registrySetting),
      binary: env.STACK_REGISTRY_BINARY || undefined,
    },
    kubernetes: {
      namespace: dnsLabel(env, 'STACK_K8S_NAMESPACE', 'wasm-signer'),
      serviceAccount: dnsLabel(env, 'STACK_K8S_SERVICE_ACCOUNT', 'signer'),
    },
    tokenTtlSeconds: integer(env, 'STACK_TOKEN_TTL_SECONDS', 600, 60, 86_400),
  };
}

export function stackUrls(config: StackConfig): StackUrls {
  const base = (p: number) => `http://${config.host}:${p}`;
  return {
    oidcIssuer: base(config.ports.oidc),
    fulcio: base(config.ports.fulcio),
    rekor: base(config.ports.rekor),
    tsa: base(config.ports.tsa),
    tsaTimestamp: `${base(config.ports.tsa)}${TSA_TIMESTAMP_PATH}`,
    registry: `${config.host}:${config.ports.registry}`,
  };
}

export function stackFiles(config: StackConfig): StackFiles {
  return {
    trustedRoot: join(config.outputDir, 'trusted_root.json'),
    signingConfig: join(config.outputDir, 'signing_config.json'),
    stackEnv: join(config.outputDir, 'stack.env'),
    tokenFile: join(config.stateDir, 'oidc', 'token'),
    stackLog: join(config.stateDir, 'stack.log'),
  };
}

/**
 * The repository root: the nearest ancestor of `start` holding a package.json, skipping `dist/` (the
 * build copies package.json there), so it works from dev/stack and from dist/dev/stack alike.
 */
export function findRepoRoot(start: string = __dirname): string {
  let dir = isAbsolute(start) ? start : resolve(start);
  for (;;) {
    if (basename(dir) !== 'dist' && existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new StackConfigError(`no package.json above ${start}`);
    dir = parent;
  }
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  return integer(env, name, fallback, 1, 65_535);
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StackConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

function dnsLabel(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name] || fallback;
  if (value.length > 63 || !DNS_LABEL.test(value)) {
    throw new StackConfigError(`${name} must be a Kubernetes name (RFC 1123 label), got "${value}"`);
  }
  return value;
}
