import { OciRepository } from './oci-reference';
import { CredentialLookup, RegistryAuthenticator, repositoryScope } from './registry-auth';
import type { RegistryEgressPolicy } from './registry-egress-policy';
import { RegistryError, RegistryRequestContext, registryAddressRefused, registryNotAllowed } from './registry-error';
import { ExchangeSignals, FetchFunction, discardBody, errorFromResponse, exchange } from './registry-http';

/**
 * Requests to one registry API: picks http or https, authenticates (anonymous first, then the 401
 * challenge), follows redirects of reads (registries send blob and manifest reads to storage) and keeps
 * credentials on the registry's own origin. It interprets no status beyond 401 and redirects.
 */

export interface RegistryTransportOptions {
  credentials: CredentialLookup;
  /** `host[:port]` spoken to over plain http; every other host over https. */
  insecureHosts: readonly string[];
  userAgent: string;
  requestTimeoutMs: number;
  fetch: FetchFunction;
  /** Which registries may be named and which addresses reached; none: any. */
  egress?: RegistryEgressPolicy;
  now?: () => number;
}

export interface RegistryRequest {
  repo: OciRepository;
  /** The token scope the request needs. */
  access: 'pull' | 'push';
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** A path on the registry (`/v2/…`) or an absolute URL it handed out (an upload location). */
  url: string | URL;
  headers?: Record<string, string>;
  body?: Buffer | ReadableStream<Uint8Array>;
  /** For messages: what the request does, e.g. `PUT manifest v1`. */
  operation: string;
  signal?: AbortSignal;
  /** `request` (default): the whole exchange within requestTimeoutMs. `none`: `extraSignal` bounds it. */
  deadline?: 'request' | 'none';
  extraSignal?: AbortSignal;
  /** Overrides requestTimeoutMs for this request. */
  timeoutMs?: number;
}

export interface RegistryResponse {
  response: Response;
  signals: ExchangeSignals;
  context: RegistryRequestContext;
  /** The URL that answered (after redirects): the base for relative `Location` headers. */
  url: URL;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

export class RegistryTransport {
  readonly #options: RegistryTransportOptions;
  readonly #insecure: Set<string>;
  readonly #auth: RegistryAuthenticator;

  constructor(options: RegistryTransportOptions) {
    this.#options = options;
    this.#insecure = new Set(options.insecureHosts.map(normalizeHost));
    this.#auth = new RegistryAuthenticator({
      credentials: options.credentials,
      fetch: options.fetch,
      userAgent: options.userAgent,
      requestTimeoutMs: options.requestTimeoutMs,
      isInsecureHost: (host) => this.#insecure.has(normalizeHost(host)),
      now: options.now,
    });
  }

  get requestTimeoutMs(): number {
    return this.#options.requestTimeoutMs;
  }

  /** `https://host[:port]`, or `http://` for an insecure host (exact host[:port] match). */
  baseUrl(registry: string): URL {
    return new URL(`${this.#insecure.has(normalizeHost(registry)) ? 'http' : 'https'}://${registry}`);
  }

  context(repo: OciRepository, operation: string): RegistryRequestContext {
    return {
      registry: repo.registry,
      repository: repo.repository,
      operation,
      credentialsConfigured: this.#auth.hasCredentials(repo.registry),
    };
  }

  async send(request: RegistryRequest): Promise<RegistryResponse> {
    const context = this.context(request.repo, request.operation);
    // Refused before anything is sent (a token included): a registry callers may not name, or one written
    // as an internal address. Names are checked on their addresses when connecting (registry-egress-fetch).
    const egress = this.#options.egress;
    if (egress && !egress.allowsRegistry(request.repo.registry)) throw registryNotAllowed(context);
    const scope = repositoryScope(request.repo.repository, request.access);
    const origin = this.baseUrl(request.repo.registry).origin;
    let url = this.#resolve(request.url, this.baseUrl(request.repo.registry), context);
    const refusedAtOnce = egress?.refusalBeforeLookup(url.hostname);
    if (refusedAtOnce) throw registryAddressRefused(context, refusedAtOnce);
    const replayable = request.body === undefined || request.body instanceof Uint8Array;
    let authorization = url.origin === origin ? await this.#auth.authorizationFor(context, scope, request.signal) : undefined;
    let challenged = false;

    for (let redirects = 0; ;) {
      // A redirect may name another host: checked the same way.
      const refusal = egress?.refusalBeforeLookup(url.hostname);
      if (refusal) throw registryAddressRefused(context, refusal);
      const headers = new Headers(request.headers);
      headers.set('user-agent', this.#options.userAgent);
      // Credentials go to the registry's origin only, never to storage it redirects to.
      if (authorization !== undefined && url.origin === origin) headers.set('authorization', authorization);
      const { response, signals } = await exchange(this.#options.fetch, {
        url,
        method: request.method,
        headers,
        body: request.body,
        signal: request.signal,
        timeoutMs: request.deadline === 'none' ? undefined : (request.timeoutMs ?? this.#options.requestTimeoutMs),
        extraSignal: request.extraSignal,
        context,
      });

      if (response.status === 401 && !challenged && replayable && url.origin === origin) {
        challenged = true;
        const answer = await this.#auth.answerChallenge(context, scope, response.headers.get('www-authenticate'), request.signal);
        if (answer !== undefined) {
          await discardBody(response);
          authorization = answer;
          continue;
        }
      }

      const location = response.headers.get('location');
      const followable = request.method === 'GET' || request.method === 'HEAD' || ((response.status === 307 || response.status === 308) && replayable);
      if (REDIRECTS.has(response.status) && location && followable && redirects < MAX_REDIRECTS) {
        await discardBody(response);
        url = this.#resolve(location, url, context);
        redirects++;
        continue;
      }
      return { response, signals, context, url };
    }
  }

  /** The RegistryError for an answer the caller did not expect (reads the registry's error body). */
  error(answer: RegistryResponse): Promise<RegistryError> {
    return errorFromResponse(answer.response, answer.signals, answer.context);
  }

  /** Throws the RegistryError for an answer the caller did not expect. */
  async fail(answer: RegistryResponse): Promise<never> {
    throw await this.error(answer);
  }

  /** The `Location` of an answer (upload sessions), resolved against the URL that answered; may be relative. */
  location(answer: RegistryResponse): URL {
    const location = answer.response.headers.get('location');
    if (!location) {
      throw new RegistryError(
        'REGISTRY_PROTOCOL_ERROR',
        `Registry ${answer.context.registry} answered ${answer.context.operation} on ${answer.context.repository} without a Location header.`,
        { transient: false, registry: answer.context.registry, repository: answer.context.repository, status: answer.response.status },
      );
    }
    return this.#resolve(location, answer.url, answer.context);
  }

  /** Resolves a path or URL; plain http only for insecure hosts, so a registry cannot downgrade us. */
  #resolve(target: string | URL, base: URL, context: RegistryRequestContext): URL {
    let url: URL;
    try {
      url = new URL(target, base);
    } catch {
      throw new RegistryError('REGISTRY_PROTOCOL_ERROR', `Registry ${context.registry} sent an invalid URL during ${context.operation}.`, {
        transient: false,
        registry: context.registry,
        repository: context.repository,
      });
    }
    const allowed = url.protocol === 'https:' || (url.protocol === 'http:' && this.#insecure.has(normalizeHost(url.host)));
    if (!allowed) {
      throw new RegistryError(
        'REGISTRY_PROTOCOL_ERROR',
        `Registry ${context.registry} sent ${context.operation} to ${url.protocol}//${url.host}, which is neither https nor an insecure host.`,
        { transient: false, registry: context.registry, repository: context.repository },
      );
    }
    return url;
  }
}

/** `host[:port]` as URL parsing writes it: lowercased host, default port dropped, IPv6 kept in brackets. */
function normalizeHost(host: string): string {
  try {
    return new URL(`http://${host}`).host;
  } catch {
    return host.toLowerCase();
  }
}
