import { compactVerify, createRemoteJWKSet, decodeJwt, errors as joseErrors, type JWTPayload } from 'jose';

export type TokenProblem =
  'malformed token' | 'untrusted issuer' | 'invalid signature' | 'invalid audience' | 'token expired' | 'token not yet valid' | 'missing claim' | 'issuer unavailable';

/** A refused identity token; `problem` names what was wrong. */
export class IdentityTokenError extends Error {
  override readonly name = 'IdentityTokenError';
  constructor(
    readonly problem: TokenProblem,
    detail: string,
  ) {
    super(`${problem}: ${detail}`);
  }
}

export interface VerifiedToken {
  readonly issuer: string;
  readonly subject: string;
  readonly claims: JWTPayload & Record<string, unknown>;
}

export interface TokenVerifierOptions {
  /** The single issuer this verifier trusts. */
  readonly issuer: string;
  /** Value that `aud` must contain. */
  readonly audience: string;
  readonly now?: () => Date;
  /** Timeout for fetching discovery and JWKS. */
  readonly fetchTimeoutMs?: number;
}

/** Allowed clock skew for `nbf`, as in the OIDC library Fulcio uses (expiry has none). */
const NOT_BEFORE_LEEWAY_SECONDS = 300;

type KeySet = ReturnType<typeof createRemoteJWKSet>;

/**
 * Verifies OIDC identity tokens as Fulcio does for a configured issuer: the issuer must be the trusted
 * one, the signature must verify with a key from the issuer's JWKS (found through its discovery
 * document, fetched over HTTP), `aud` must contain the audience, the token must not be expired and
 * must already be valid.
 */
export class OidcTokenVerifier {
  private keySet: Promise<KeySet> | undefined;
  private readonly now: () => Date;

  constructor(private readonly options: TokenVerifierOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async verify(token: string): Promise<VerifiedToken> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch (error) {
      throw new IdentityTokenError('malformed token', error instanceof Error ? error.message : String(error));
    }
    if (unverified.iss !== this.options.issuer) {
      throw new IdentityTokenError('untrusted issuer', `"${String(unverified.iss)}" is not a configured issuer (trusted: ${this.options.issuer})`);
    }

    const keySet = await this.getKeySet();
    let payload: Uint8Array;
    try {
      ({ payload } = await compactVerify(token, keySet, { algorithms: ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] }));
    } catch (error) {
      if (error instanceof joseErrors.JWKSTimeout || isNetworkError(error)) {
        throw new IdentityTokenError('issuer unavailable', `could not fetch the keys of ${this.options.issuer}: ${describe(error)}`);
      }
      throw new IdentityTokenError('invalid signature', `token signature does not verify with the keys of ${this.options.issuer}: ${describe(error)}`);
    }
    const claims = JSON.parse(Buffer.from(payload).toString('utf8')) as JWTPayload & Record<string, unknown>;

    const audiences = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (!audiences.includes(this.options.audience)) {
      throw new IdentityTokenError('invalid audience', `expected "${this.options.audience}" in aud, got ${JSON.stringify(claims.aud ?? null)}`);
    }
    const now = this.now().getTime() / 1000;
    if (typeof claims.exp !== 'number') throw new IdentityTokenError('missing claim', 'token has no exp claim');
    if (claims.exp <= now) {
      throw new IdentityTokenError('token expired', `token expired at ${new Date(claims.exp * 1000).toISOString()}`);
    }
    if (typeof claims.nbf === 'number' && claims.nbf > now + NOT_BEFORE_LEEWAY_SECONDS) {
      throw new IdentityTokenError('token not yet valid', `token is not valid before ${new Date(claims.nbf * 1000).toISOString()}`);
    }
    if (typeof claims.sub !== 'string' || claims.sub.length === 0) {
      throw new IdentityTokenError('missing claim', 'token has no sub claim');
    }
    return { issuer: this.options.issuer, subject: claims.sub, claims };
  }

  /** Discovers the JWKS URI once; a failed discovery is retried on the next request. */
  private async getKeySet(): Promise<KeySet> {
    if (!this.keySet) {
      this.keySet = this.discover().catch((error: unknown) => {
        this.keySet = undefined;
        throw error;
      });
    }
    return this.keySet;
  }

  private async discover(): Promise<KeySet> {
    const url = `${this.options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let document: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.options.fetchTimeoutMs ?? 5_000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      document = (await response.json()) as typeof document;
    } catch (error) {
      throw new IdentityTokenError('issuer unavailable', `OIDC discovery at ${url} failed: ${describe(error)}`);
    }
    if (document.issuer !== this.options.issuer || typeof document.jwks_uri !== 'string') {
      throw new IdentityTokenError('issuer unavailable', `OIDC discovery at ${url} returned issuer ${JSON.stringify(document.issuer)} without a usable jwks_uri`);
    }
    return createRemoteJWKSet(new URL(document.jwks_uri), { timeoutDuration: this.options.fetchTimeoutMs ?? 5_000 });
  }
}

function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown; cause?: { code?: unknown } } | undefined)?.code ?? (error as { cause?: { code?: unknown } })?.cause?.code;
  return typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'ERR_JWKS_TIMEOUT'].includes(code);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
