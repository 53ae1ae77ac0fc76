import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';

/**
 * Registry credentials: the `auths` of a Docker `config.json` plus per-registry settings given in code,
 * looked up by registry host. Credential helpers (`credsStore`, `credHelpers`) are deliberately not
 * supported: running external `docker-credential-*` programs from a service is a poor fit, so those
 * entries are ignored and such registries are treated as having no credentials. Secrets never appear
 * in messages, JSON or `util.inspect` output.
 */

export class RegistryCredentialsError extends Error {
  readonly code = 'REGISTRY_CREDENTIALS_INVALID';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegistryCredentialsError';
  }
}

/** A username with a password, or an identity (refresh) token for the registry's token service. */
export class RegistryCredential {
  readonly #password: string | undefined;
  readonly #identityToken: string | undefined;

  private constructor(
    readonly username: string,
    password: string | undefined,
    identityToken: string | undefined,
  ) {
    this.#password = password;
    this.#identityToken = identityToken;
  }

  static basic(username: string, password: string): RegistryCredential {
    return new RegistryCredential(username, password, undefined);
  }

  /** An OAuth2 refresh token (Docker's `identitytoken`); `username` is often `<token>` or empty. */
  static identityToken(token: string, username = ''): RegistryCredential {
    return new RegistryCredential(username, undefined, token);
  }

  get kind(): 'basic' | 'identity-token' {
    return this.#identityToken !== undefined ? 'identity-token' : 'basic';
  }

  /** The identity token, sent as `refresh_token` to the registry's OAuth2 token endpoint. */
  refreshToken(): string | undefined {
    return this.#identityToken;
  }

  /** `Basic …` value: the password, or the identity token where a registry takes it as a password (e.g. ACR). */
  basicAuthorization(): string | undefined {
    const secret = this.#password ?? this.#identityToken;
    if (secret === undefined) return undefined;
    return `Basic ${Buffer.from(`${this.username}:${secret}`).toString('base64')}`;
  }

  toJSON(): Record<string, string> {
    return { username: this.username, secret: this.#identityToken !== undefined ? '[identity token redacted]' : '[password redacted]' };
  }

  [inspect.custom](): string {
    return `RegistryCredential(${JSON.stringify(this.toJSON())})`;
  }
}

export interface RegistryCredentialsOptions {
  /** Explicit path of a Docker `config.json`; must exist. */
  dockerConfigPath?: string;
  /**
   * Environment for the default location: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`
   * (read when present). Defaults to process.env; pass `{}` with no `dockerConfigPath` to read no file.
   */
  env?: Record<string, string | undefined>;
  /** Per-registry credentials (`host[:port]` → login); these win over the Docker config. */
  registries?: Record<string, { username: string; password: string }>;
}

/** Credentials by registry; hands out nothing for a registry it does not know. */
export class RegistryCredentials {
  readonly #byRegistry: Map<string, RegistryCredential>;

  constructor(entries: Iterable<[registry: string, credential: RegistryCredential]> = []) {
    this.#byRegistry = new Map();
    for (const [registry, credential] of entries) this.#byRegistry.set(canonicalRegistry(registry), credential);
  }

  static none(): RegistryCredentials {
    return new RegistryCredentials();
  }

  /** Reads the Docker config (see options) and merges the per-registry settings over it. Synchronous: for start-up. */
  static load(options: RegistryCredentialsOptions = {}): RegistryCredentials {
    const entries: [string, RegistryCredential][] = [];
    const source = options.dockerConfigPath ?? defaultDockerConfigPath(options.env ?? process.env);
    if (source !== undefined) {
      const text = readConfigFile(source, options.dockerConfigPath !== undefined);
      if (text !== undefined) entries.push(...dockerConfigEntries(text, source));
    }
    for (const [registry, login] of Object.entries(options.registries ?? {})) {
      if (!login.username || login.password === undefined || login.password === '') {
        throw new RegistryCredentialsError(`credentials for registry ${registry} need both a username and a password`);
      }
      entries.push([registry, RegistryCredential.basic(login.username, login.password)]);
    }
    return new RegistryCredentials(entries);
  }

  forRegistry(registry: string): RegistryCredential | undefined {
    return this.#byRegistry.get(canonicalRegistry(registry));
  }

  /** The registries with credentials (names only). */
  registries(): string[] {
    return [...this.#byRegistry.keys()];
  }

  toJSON(): { registries: string[] } {
    return { registries: this.registries() };
  }

  [inspect.custom](): string {
    return `RegistryCredentials(${this.registries().join(', ')})`;
  }
}

// Docker Hub is stored under several names (`https://index.docker.io/v1/` by `docker login`).
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * `host[:port]` of a registry or of a Docker config `auths` key: keys may be a bare host, a URL such as
 * `https://host/v1/` (the legacy form), or `http://host:port`. Hosts compare case-insensitively.
 */
export function canonicalRegistry(value: string): string {
  const host = value
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .split('/')[0]!
    .toLowerCase();
  return DOCKER_HUB_ALIASES.has(host) ? 'docker.io' : host;
}

function defaultDockerConfigPath(env: Record<string, string | undefined>): string | undefined {
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, 'config.json');
  const home = env.HOME ?? safeHomedir();
  return home ? join(home, '.docker', 'config.json') : undefined;
}

function safeHomedir(): string | undefined {
  try {
    return homedir() || undefined;
  } catch {
    return undefined;
  }
}

function readConfigFile(path: string, required: boolean): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!required && (code === 'ENOENT' || code === 'ENOTDIR')) return undefined;
    throw new RegistryCredentialsError(`cannot read Docker config ${path}: ${code ?? String(error)}`, { cause: error });
  }
}

interface DockerAuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
}

/** Credentials from the `auths` map of a Docker config file's text. `source` names the file in errors. */
export function dockerConfigEntries(text: string, source: string): [string, RegistryCredential][] {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    // The JSON parser's message may quote the file's content: leave it out.
    throw new RegistryCredentialsError(`Docker config ${source} is not valid JSON`);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new RegistryCredentialsError(`Docker config ${source} is not a JSON object`);
  }
  const auths = (config as { auths?: unknown }).auths;
  if (auths === undefined) return [];
  if (auths === null || typeof auths !== 'object' || Array.isArray(auths)) {
    throw new RegistryCredentialsError(`Docker config ${source}: "auths" is not an object`);
  }
  const entries: [string, RegistryCredential][] = [];
  for (const [key, value] of Object.entries(auths as Record<string, unknown>)) {
    const credential = credentialFromEntry((value ?? {}) as DockerAuthEntry, `${source}: auths[${JSON.stringify(key)}]`);
    if (credential) entries.push([key, credential]);
  }
  return entries;
}

function credentialFromEntry(entry: DockerAuthEntry, where: string): RegistryCredential | undefined {
  let username = typeof entry.username === 'string' ? entry.username : undefined;
  let password = typeof entry.password === 'string' ? entry.password : undefined;
  // As in the Docker CLI, a non-empty `auth` (base64 of "user:password") wins over username/password.
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new RegistryCredentialsError(`${where}: "auth" is not base64 of "username:password"`);
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') {
    return RegistryCredential.identityToken(entry.identitytoken, username ?? '');
  }
  if (username && password !== undefined && password !== '') return RegistryCredential.basic(username, password);
  // An entry with nothing usable (e.g. left by a credential helper): no credentials for this registry.
  return undefined;
}
