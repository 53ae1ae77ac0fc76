import { createRemoteJWKSet, errors as joseErrors, type JWTVerifyGetKey } from 'jose';
import { isLoopbackHost } from './trusted-publisher-rules';
import { TokenVerificationError } from './token-verification-error';

export interface IssuerKeysOptions {
  /** Each fetch of the discovery document or the JWKS. */
  timeoutMs: number;
  /** After a JWKS fetch, how long a token with an unknown `kid` does not make it fetch again. */
  jwksCooldownMs?: number;
  /** How long a fetched JWKS is used before it is fetched again. */
  jwksMaxAgeMs?: number;
  /** How long a discovery document is used before it is fetched again. */
  discoveryMaxAgeMs?: number;
  /** After a failed discovery, how long before the issuer is asked again (meanwhile the failure stands). */
  discoveryRetryMs?: number;
  /** Told when a discovery fails while an older one is kept in use. */
  onStaleDiscovery?: (issuer: string, error: TokenVerificationError) => void;
}

export const DISCOVERY_PATH = '/.well-known/openid-configuration';
const DEFAULT_JWKS_COOLDOWN_MS = 30_000;
const DEFAULT_JWKS_MAX_AGE_MS = 10 * 60_000;
const DEFAULT_DISCOVERY_MAX_AGE_MS = 60 * 60_000;
const DEFAULT_DISCOVERY_RETRY_MS = 5_000;
/** Discovery documents are a few KiB; a larger answer is not one. */
const MAX_DISCOVERY_BYTES = 256 * 1024;

type RemoteKeySet = ReturnType<typeof createRemoteJWKSet>;

interface Discovery {
  jwksUri: string;
  keySet: RemoteKeySet;
  /** When it was fetched, or last tried again (ms since the epoch). */
  checkedAt: number;
}

/**
 * One issuer's signing keys: its OpenID Connect discovery document (`<issuer>/.well-known/openid-configuration`,
 * fetched with a timeout, kept an hour) names its `jwks_uri`, whose keys jose's remote JWK set fetches
 * and keeps: ten minutes, and again at once (at most every 30 s) when a token names a `kid` it does not
 * hold, so that key rotation is followed. Fetches are shared by concurrent requests.
 *
 * Fails closed: keys that cannot be fetched refuse the token (OIDC_ISSUER_UNAVAILABLE), never fall
 * back to expired ones. Only the discovery document, which names where the keys are and not the keys
 * themselves, is kept beyond its age when the issuer cannot be reached.
 */
export class IssuerKeys {
  private discovery: Discovery | undefined;
  private discovering: Promise<Discovery> | undefined;
  private failure: { error: TokenVerificationError; until: number } | undefined;

  constructor(
    readonly issuer: string,
    private readonly options: IssuerKeysOptions,
  ) {}

  /** The key for a token's header, for jose's `jwtVerify`. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const { keySet } = await this.current();
    try {
      return await keySet(header, token);
    } catch (error) {
      // An unknown kid (even after a new fetch), or several keys and no kid: the token's affair.
      if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) throw error;
      // Anything else is the fetch or the key set itself: a timeout, a refused connection, a non-200
      // answer, JSON that is not a JWK set, a key that cannot be imported.
      throw new TokenVerificationError('OIDC_ISSUER_UNAVAILABLE', `the keys (JWKS) of ${this.issuer} could not be fetched from ${keySetUrl(this.discovery)}: ${describe(error)}`, {
        cause: error,
      });
    }
  };

  private async current(): Promise<Discovery> {
    const now = Date.now();
    const known = this.discovery;
    if (known && now - known.checkedAt < (this.options.discoveryMaxAgeMs ?? DEFAULT_DISCOVERY_MAX_AGE_MS)) return known;
    if (this.failure && now < this.failure.until) {
      if (known) return known;
      throw this.failure.error;
    }
    this.discovering ??= this.discover().finally(() => (this.discovering = undefined));
    try {
      return await this.discovering;
    } catch (error) {
      if (!(error instanceof TokenVerificationError)) throw error;
      this.failure = { error, until: Date.now() + (this.options.discoveryRetryMs ?? DEFAULT_DISCOVERY_RETRY_MS) };
      if (!known) throw error;
      this.options.onStaleDiscovery?.(this.issuer, error);
      return known;
    }
  }

  private async discover(): Promise<Discovery> {
    const url = `${this.issuer.replace(/\/$/, '')}${DISCOVERY_PATH}`;
    const unavailable = (why: string, cause?: unknown) =>
      new TokenVerificationError('OIDC_ISSUER_UNAVAILABLE', `the discovery document of ${this.issuer} (${url}) ${why}`, { cause });
    let document: unknown;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.options.timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
      if (response.status !== 200) {
        await response.body?.cancel();
        throw unavailable(`answered HTTP ${response.status}`);
      }
      document = JSON.parse(await readBounded(response, MAX_DISCOVERY_BYTES)) as unknown;
    } catch (error) {
      if (error instanceof TokenVerificationError) throw error;
      const timedOut = (error as Error)?.name === 'TimeoutError';
      throw unavailable(timedOut ? `did not answer within ${this.options.timeoutMs} ms (OIDC_ISSUER_TIMEOUT_MS)` : `could not be read: ${describe(error)}`, error);
    }
    const { issuer, jwks_uri: jwksUri } = (document ?? {}) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery 1.0 §4.3: the document's issuer is exactly the issuer asked for.
    if (issuer !== this.issuer) throw unavailable(`names the issuer ${JSON.stringify(issuer)}, not ${this.issuer}`);
    if (typeof jwksUri !== 'string' || !isKeySetUrl(jwksUri, this.issuer)) throw unavailable(`has no usable jwks_uri (${JSON.stringify(jwksUri)}; https:// expected)`);
    const known = this.discovery;
    this.failure = undefined;
    // The same key set (and its cached keys) as long as the document names the same place.
    const keySet =
      known?.jwksUri === jwksUri
        ? known.keySet
        : createRemoteJWKSet(new URL(jwksUri), {
            timeoutDuration: this.options.timeoutMs,
            cooldownDuration: this.options.jwksCooldownMs ?? DEFAULT_JWKS_COOLDOWN_MS,
            cacheMaxAge: this.options.jwksMaxAgeMs ?? DEFAULT_JWKS_MAX_AGE_MS,
          });
    this.discovery = { jwksUri, keySet, checkedAt: Date.now() };
    return this.discovery;
  }
}

/** The keys come from https:// (or from loopback http://, as the issuer itself may for the local stack). */
function isKeySetUrl(value: string, issuer: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && new URL(issuer).protocol === 'http:' && isLoopbackHost(url.hostname);
}

const keySetUrl = (discovery: Discovery | undefined) => discovery?.jwksUri ?? '(unknown)';

async function readBounded(response: Response, limit: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel();
    throw new Error(`answer larger than ${limit} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += (chunk as Uint8Array).byteLength;
    if (size > limit) throw new Error(`answer larger than ${limit} bytes`);
    chunks.push(chunk as Uint8Array);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const code = (error as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code;
  const detail = cause instanceof Error && cause.message !== error.message ? `: ${cause.message}` : '';
  return `${error.message}${detail}${typeof code === 'string' && !error.message.includes(code) && !detail.includes(code) ? ` (${code})` : ''}`;
}
