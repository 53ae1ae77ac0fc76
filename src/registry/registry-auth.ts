import { RegistryCredential } from './registry-credentials';
import { RegistryError, RegistryRequestContext } from './registry-error';
import { FetchFunction, errorFromResponse, exchange, readBody } from './registry-http';
import { AuthChallenge, parseWwwAuthenticate } from './www-authenticate';

/**
 * Registry authentication, as Docker clients do it. Requests go out anonymously first; a 401 carries a
 * `WWW-Authenticate` challenge:
 *
 * - `Basic realm=…`: resend with the configured username and password (remembered for the registry, so
 *   later requests send them straight away).
 * - `Bearer realm=…,service=…,scope=…`: get a token from the realm (distribution "token authentication"
 *   spec) — GET `realm?service=…&scope=…` with Basic credentials when configured (anonymously otherwise),
 *   or, with an identity token, POST the OAuth2 form `grant_type=refresh_token` ("OAuth2 token" spec) —
 *   and resend with `Bearer <token>`. Tokens are cached per (registry, scope) until `expires_in`
 *   (default 60 s) runs out, and the realm is remembered so later scopes skip the anonymous round trip.
 */

export interface CredentialLookup {
  forRegistry(registry: string): RegistryCredential | undefined;
}

export interface RegistryAuthOptions {
  credentials: CredentialLookup;
  fetch: FetchFunction;
  userAgent: string;
  requestTimeoutMs: number;
  /** Whether `host[:port]` may be spoken to over plain http. */
  isInsecureHost(host: string): boolean;
  now?: () => number;
}

interface CachedToken {
  authorization: string;
  expiresAt: number;
}

interface BearerRealm {
  realm: string;
  service: string | undefined;
}

/** Seconds a token lives when the token service does not say (distribution token spec). */
const DEFAULT_TOKEN_LIFETIME_S = 60;
const TOKEN_RESPONSE_LIMIT = 1024 * 1024;
/** OAuth2 client identifier sent with refresh-token requests (the spec requires one). */
const CLIENT_ID = 'wasm-signer';

/** `repository:<name>:pull` or `repository:<name>:pull,push`, as registries ask for them. */
export function repositoryScope(repository: string, access: 'pull' | 'push'): string {
  return `repository:${repository}:${access === 'push' ? 'pull,push' : 'pull'}`;
}

export class RegistryAuthenticator {
  readonly #options: RegistryAuthOptions;
  readonly #now: () => number;
  readonly #tokens = new Map<string, CachedToken>();
  readonly #pending = new Map<string, Promise<CachedToken>>();
  readonly #basicRegistries = new Set<string>();
  readonly #bearerRealms = new Map<string, BearerRealm>();

  constructor(options: RegistryAuthOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  hasCredentials(registry: string): boolean {
    return this.#options.credentials.forRegistry(registry) !== undefined;
  }

  /**
   * The `Authorization` value to send before any challenge: a cached token, Basic credentials for a
   * registry known to want them, or a fresh token for a registry whose token service is known. Undefined:
   * go anonymous and let a 401 tell.
   */
  async authorizationFor(context: RegistryRequestContext, scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const cached = this.#tokens.get(tokenKey(context.registry, scope));
    if (cached && cached.expiresAt > this.#now()) return cached.authorization;
    if (this.#basicRegistries.has(context.registry)) return this.#options.credentials.forRegistry(context.registry)?.basicAuthorization();
    const realm = this.#bearerRealms.get(context.registry);
    if (realm) return (await this.#token(context, scope, realm, undefined, signal)).authorization;
    return undefined;
  }

  /**
   * Answers a 401 challenge: the `Authorization` value to resend with, or undefined when nothing can
   * satisfy it (no credentials for Basic, an unknown scheme), in which case the 401 stands.
   * Throws a RegistryError when the token service fails.
   */
  async answerChallenge(context: RegistryRequestContext, scope: string, wwwAuthenticate: string | null, signal?: AbortSignal): Promise<string | undefined> {
    const { registry } = context;
    this.#tokens.delete(tokenKey(registry, scope));
    const challenges = parseWwwAuthenticate(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      const realm: BearerRealm = { realm: bearer.params.realm!, service: bearer.params.service };
      this.#bearerRealms.set(registry, realm);
      this.#basicRegistries.delete(registry);
      return (await this.#token(context, scope, realm, bearer, signal)).authorization;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      const credential = this.#options.credentials.forRegistry(registry);
      if (!credential) return undefined;
      this.#basicRegistries.add(registry);
      return credential.basicAuthorization();
    }
    return undefined;
  }

  /** One token request per (registry, scope) at a time: concurrent requests share it. */
  #token(context: RegistryRequestContext, scope: string, realm: BearerRealm, challenge: AuthChallenge | undefined, signal: AbortSignal | undefined): Promise<CachedToken> {
    const key = tokenKey(context.registry, scope);
    const pending = this.#pending.get(key);
    if (pending) return pending;
    const request = this.#requestToken(context, scope, realm, challenge, signal)
      .then((token) => {
        this.#tokens.set(key, token);
        return token;
      })
      .finally(() => this.#pending.delete(key));
    this.#pending.set(key, request);
    return request;
  }

  async #requestToken(
    context: RegistryRequestContext,
    scope: string,
    realm: BearerRealm,
    challenge: AuthChallenge | undefined,
    signal: AbortSignal | undefined,
  ): Promise<CachedToken> {
    const url = this.#realmUrl(context, realm.realm);
    // Ask for the scope the operation needs, plus any other the registry named in its challenge.
    const scopes = [scope];
    const challenged = challenge?.params.scope;
    if (challenged) for (const s of challenged.split(' ')) if (s && !scopes.some((mine) => scopeCovers(mine, s))) scopes.push(s);

    const credential = this.#options.credentials.forRegistry(context.registry);
    const refreshToken = credential?.refreshToken();
    const headers = new Headers({ 'user-agent': this.#options.userAgent, accept: 'application/json' });
    let method = 'GET';
    let body: Buffer | undefined;
    if (refreshToken !== undefined) {
      // OAuth2 refresh-token grant: the identity token never goes into a URL.
      method = 'POST';
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT_ID });
      if (realm.service) form.set('service', realm.service);
      form.set('scope', scopes.join(' '));
      body = Buffer.from(form.toString());
      headers.set('content-type', 'application/x-www-form-urlencoded');
    } else {
      if (realm.service) url.searchParams.set('service', realm.service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const basic = credential?.basicAuthorization();
      if (basic) {
        if (credential!.username) url.searchParams.set('account', credential!.username);
        headers.set('authorization', basic);
      }
    }

    const tokenContext: RegistryRequestContext = { ...context, operation: `${method} token from ${url.origin}${url.pathname} for ${context.operation}` };
    const { response, signals } = await exchange(this.#options.fetch, {
      url,
      method,
      headers,
      body,
      signal,
      timeoutMs: this.#options.requestTimeoutMs,
      context: tokenContext,
    });
    if (response.status !== 200) throw await errorFromResponse(response, signals, tokenContext);

    const protocolError = (what: string) =>
      new RegistryError('REGISTRY_PROTOCOL_ERROR', `Token service ${url.origin}${url.pathname} for registry ${context.registry} ${what}.`, {
        transient: false,
        registry: context.registry,
        repository: context.repository,
      });
    const text = (await readBody(response, signals, TOKEN_RESPONSE_LIMIT, () => protocolError('sent an oversized answer'))).toString('utf8');
    let answer: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      answer = JSON.parse(text) as typeof answer;
    } catch {
      throw protocolError('did not answer with JSON');
    }
    const token = typeof answer.token === 'string' && answer.token !== '' ? answer.token : answer.access_token;
    if (typeof token !== 'string' || token === '') throw protocolError('answered without a token');
    const lifetimeS = typeof answer.expires_in === 'number' && Number.isFinite(answer.expires_in) && answer.expires_in > 0 ? answer.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    // Renew a little early so a token does not expire between our check and the registry's.
    const margin = Math.min(10_000, lifetimeS * 100);
    return { authorization: `Bearer ${token}`, expiresAt: this.#now() + lifetimeS * 1000 - margin };
  }

  /** The realm as a URL; credentials only travel over https unless its host is an insecure one. */
  #realmUrl(context: RegistryRequestContext, realm: string): URL {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError('REGISTRY_PROTOCOL_ERROR', `Registry ${context.registry} named an invalid token realm ${JSON.stringify(realm)}.`, {
        transient: false,
        registry: context.registry,
        repository: context.repository,
      });
    }
    const secure = url.protocol === 'https:' || (url.protocol === 'http:' && this.#options.isInsecureHost(url.host));
    if (!secure) {
      throw new RegistryError(
        'REGISTRY_PROTOCOL_ERROR',
        `Registry ${context.registry} named the token realm ${url.origin}${url.pathname}, which is not https; ` +
          `list ${url.host} among the insecure hosts if plain http is intended.`,
        { transient: false, registry: context.registry, repository: context.repository },
      );
    }
    return url;
  }
}

const tokenKey = (registry: string, scope: string): string => `${registry} ${scope}`;

/** Whether scope `a` grants everything `b` asks for (`type:name:actions`, same resource, actions a superset). */
export function scopeCovers(a: string, b: string): boolean {
  const split = (scope: string) => {
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    return first === -1 || last === first ? undefined : { resource: scope.slice(0, last), actions: scope.slice(last + 1).split(',') };
  };
  const mine = split(a);
  const theirs = split(b);
  if (!mine || !theirs) return a === b;
  return mine.resource === theirs.resource && theirs.actions.every((action) => mine.actions.includes(action) || mine.actions.includes('*'));
}
