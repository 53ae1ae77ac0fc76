import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, SignJWT, type JWK } from 'jose';
import { writeFileAtomic } from '../../src/common/atomic-file';
import { HttpService, HttpStatusError, jsonResponse, readJsonBody, type HttpRequest } from './http-service';
import { loadOrCreateKeyPair, type StoredKeyPair } from './key-material';

export const SIGSTORE_AUDIENCE = 'sigstore';
export const JWKS_PATH = '/openid/v1/jwks';
export const DISCOVERY_PATH = '/.well-known/openid-configuration';
export const MINT_PATH = '/mint';

/** Kubernetes refreshes a projected service-account token once 80% of its lifetime has passed. */
const REFRESH_AT_FRACTION = 0.8;
const REFRESH_RETRY_MS = 10_000;
const MAX_MINT_SECONDS = 86_400;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Claims the token's own options set; `claims` may not name them. */
const REGISTERED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti'] as const;
const MAX_EXTRA_CLAIMS = 64;
const MAX_CLAIM_NAME_LENGTH = 128;

export interface MintOptions {
  /** Audience(s); default ["sigstore"]. */
  readonly aud?: string | readonly string[];
  /** Lifetime in seconds from now; negative for a token that has already expired. Default: the token TTL. */
  readonly expiresIn?: number;
  /** `sub` claim; default system:serviceaccount:<namespace>:<serviceAccount>. */
  readonly sub?: string;
  readonly namespace?: string;
  readonly serviceAccount?: string;
  /** `iss` claim; default this issuer (any other value makes a token Fulcio must refuse). */
  readonly issuer?: string;
  /**
   * Seconds from now until the token becomes valid (`nbf`); positive for a token that is not yet valid.
   * Default: valid from the moment it is issued.
   */
  readonly notBefore?: number;
  /**
   * Further claims, any JSON values, as CI systems add them (GitHub Actions: `repository`, `ref`,
   * `workflow_ref`…; GitLab CI: `project_path`, `ref`…). They may replace the `kubernetes.io` claim but
   * not the registered claims, which the options above set (iss, sub, aud, exp, nbf, iat, jti).
   */
  readonly claims?: Readonly<Record<string, unknown>>;
}

export interface OidcIssuerOptions {
  readonly issuerUrl: string;
  /** File holding the issuer's signing key (created on first use). */
  readonly keyFile: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly tokenTtlSeconds: number;
  /** Where the current workload token is kept, like a projected service-account token volume. */
  readonly tokenFile: string;
  readonly now?: () => Date;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface WrittenToken {
  readonly token: string;
  readonly expiresAt: Date;
}

/**
 * A local OpenID Connect issuer that behaves like a Kubernetes API server's service-account issuer:
 * discovery document, JWKS, and ES256-signed workload tokens with `aud` ["sigstore"], the
 * `system:serviceaccount:<ns>:<sa>` subject and the `kubernetes.io` claim. It keeps a token file fresh
 * (atomic replace well before expiry) and offers `POST /mint` so tests and development can get expired,
 * not-yet-valid or wrong-audience tokens, and tokens carrying a CI system's claims (`claims`: repository,
 * ref…) for the service's trusted-publisher rules.
 */
export class LocalOidcIssuer {
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly now: () => Date;

  private constructor(
    private readonly options: OidcIssuerOptions,
    private readonly key: StoredKeyPair,
    private readonly publicJwk: JWK,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  static async create(options: OidcIssuerOptions): Promise<LocalOidcIssuer> {
    const key = await loadOrCreateKeyPair(options.keyFile);
    const jwk = await exportJWK(key.publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    return new LocalOidcIssuer(options, key, { ...jwk, kid, alg: 'ES256', use: 'sig' });
  }

  static keyFile(stateDir: string): string {
    return join(stateDir, 'oidc', 'signing-key.json');
  }

  get issuer(): string {
    return this.options.issuerUrl;
  }

  get tokenFile(): string {
    return this.options.tokenFile;
  }

  get keyCreatedAt(): Date {
    return this.key.createdAt;
  }

  /** The identity Fulcio certifies for the default service account. */
  get certificateIdentity(): string {
    return kubernetesServiceAccountUri(this.options.namespace, this.options.serviceAccount);
  }

  discoveryDocument(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: `${this.issuer}${JWKS_PATH}`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256'],
    };
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  /** Mints a signed workload token (with `claims` added, e.g. a CI system's repository and ref). */
  async mint(options: MintOptions = {}): Promise<WrittenToken> {
    const namespace = options.namespace ?? this.options.namespace;
    const serviceAccount = options.serviceAccount ?? this.options.serviceAccount;
    const now = Math.floor(this.now().getTime() / 1000);
    const lifetime = options.expiresIn ?? this.options.tokenTtlSeconds;
    const exp = now + lifetime;
    // A token minted already expired still had a plausible lifetime: it was issued one TTL before it expired.
    const iat = lifetime > 0 ? now : exp - this.options.tokenTtlSeconds;
    const audience = options.aud === undefined ? [SIGSTORE_AUDIENCE] : typeof options.aud === 'string' ? [options.aud] : [...options.aud];
    const extra = options.claims ?? {};
    const registered = REGISTERED_CLAIMS.filter((name) => Object.hasOwn(extra, name));
    if (registered.length > 0) throw new Error(`claims may not set ${registered.join(', ')}: use the mint options for them`);
    const token = await new SignJWT({
      'kubernetes.io': {
        namespace,
        serviceaccount: { name: serviceAccount, uid: stableUid(namespace, serviceAccount) },
      },
      ...extra,
    })
      .setProtectedHeader({ alg: 'ES256', kid: this.publicJwk.kid, typ: 'JWT' })
      .setIssuer(options.issuer ?? this.issuer)
      .setSubject(options.sub ?? `system:serviceaccount:${namespace}:${serviceAccount}`)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setNotBefore(options.notBefore === undefined ? iat : now + options.notBefore)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.key.privateKey);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /** Mints a default token and atomically replaces the token file with it (mode 0600). */
  async writeTokenFile(): Promise<WrittenToken> {
    const written = await this.mint();
    await writeFileAtomic(this.options.tokenFile, written.token, { mode: 0o600 });
    return written;
  }

  /** Milliseconds until the token file must be rewritten (80% of the token lifetime, like kubelet). */
  refreshDelayMs(): number {
    return Math.round(this.options.tokenTtlSeconds * 1000 * REFRESH_AT_FRACTION);
  }

  /** Writes the token file now and keeps rewriting it before it expires, until stopTokenRefresh(). */
  async startTokenRefresh(): Promise<WrittenToken> {
    const written = await this.writeTokenFile();
    this.schedule(this.refreshDelayMs());
    return written;
  }

  stopTokenRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  /** The HTTP face of the issuer: discovery, JWKS and the test-only mint endpoint. */
  createHttpService(isReady?: () => boolean): HttpService {
    return new HttpService({
      name: 'oidc',
      isReady,
      maxBodyBytes: 64 * 1024,
      routes: [
        { method: 'GET', path: DISCOVERY_PATH, handler: () => jsonResponse(200, this.discoveryDocument()) },
        { method: 'GET', path: JWKS_PATH, handler: () => jsonResponse(200, this.jwks()) },
        { method: 'POST', path: MINT_PATH, handler: (request) => this.handleMint(request) },
      ],
      errorBody: (status, message) => ({ error: status >= 500 ? 'server_error' : 'invalid_request', error_description: message }),
    });
  }

  private schedule(delayMs: number): void {
    this.stopTokenRefresh();
    this.refreshTimer = setTimeout(() => {
      this.writeTokenFile()
        .then((written) => {
          this.options.log?.('token file refreshed', { file: this.options.tokenFile, expiresAt: written.expiresAt.toISOString() });
          this.schedule(this.refreshDelayMs());
        })
        .catch((error: unknown) => {
          this.options.log?.('token file refresh failed; retrying', { error: String(error) });
          this.schedule(REFRESH_RETRY_MS);
        });
    }, delayMs);
    this.refreshTimer.unref();
  }

  private async handleMint(request: HttpRequest) {
    const input = await readJsonBody(request);
    const options = parseMintOptions(input);
    const { token, expiresAt } = await this.mint(options);
    return jsonResponse(200, { token, expiresAt: expiresAt.toISOString() });
  }
}

export function kubernetesServiceAccountUri(namespace: string, serviceAccount: string): string {
  return `https://kubernetes.io/namespaces/${namespace}/serviceaccounts/${serviceAccount}`;
}

/** Validates the JSON body of `POST /mint`. */
export function parseMintOptions(input: unknown): MintOptions {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new HttpStatusError(400, 'mint request must be a JSON object');
  }
  const body = input as Record<string, unknown>;
  const known = new Set(['aud', 'expiresIn', 'notBefore', 'sub', 'namespace', 'serviceAccount', 'issuer', 'claims']);
  const unknown = Object.keys(body).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new HttpStatusError(400, `unknown mint option(s): ${unknown.join(', ')}`);

  const options: { -readonly [K in keyof MintOptions]: MintOptions[K] } = {};
  if (body.aud !== undefined) {
    const aud = body.aud;
    const list = typeof aud === 'string' ? [aud] : aud;
    if (!Array.isArray(list) || list.length === 0 || !list.every((a) => typeof a === 'string' && a.length > 0)) {
      throw new HttpStatusError(400, 'aud must be a non-empty string or a non-empty array of strings');
    }
    options.aud = list as string[];
  }
  if (body.expiresIn !== undefined) {
    const value = body.expiresIn;
    if (typeof value !== 'number' || !Number.isInteger(value) || value === 0 || Math.abs(value) > MAX_MINT_SECONDS) {
      throw new HttpStatusError(400, `expiresIn must be a non-zero integer number of seconds within ±${MAX_MINT_SECONDS}`);
    }
    options.expiresIn = value;
  }
  if (body.notBefore !== undefined) {
    const value = body.notBefore;
    if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > MAX_MINT_SECONDS) {
      throw new HttpStatusError(400, `notBefore must be an integer number of seconds from now within ±${MAX_MINT_SECONDS}`);
    }
    options.notBefore = value;
  }
  if (body.claims !== undefined) options.claims = parseExtraClaims(body.claims);
  for (const name of ['sub', 'issuer'] as const) {
    const value = body[name];
    if (value !== undefined) {
      if (typeof value !== 'string' || value.length === 0) throw new HttpStatusError(400, `${name} must be a non-empty string`);
      options[name] = value;
    }
  }
  for (const name of ['namespace', 'serviceAccount'] as const) {
    const value = body[name];
    if (value !== undefined) {
      if (typeof value !== 'string' || value.length > 63 || !DNS_LABEL.test(value)) {
        throw new HttpStatusError(400, `${name} must be a Kubernetes name (RFC 1123 label)`);
      }
      options[name] = value;
    }
  }
  return options;
}

function parseExtraClaims(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new HttpStatusError(400, 'claims must be a JSON object of claim names to values');
  const claims = value as Record<string, unknown>;
  const names = Object.keys(claims);
  if (names.length > MAX_EXTRA_CLAIMS) throw new HttpStatusError(400, `claims may hold at most ${MAX_EXTRA_CLAIMS} claims`);
  const badName = names.find((name) => name.length === 0 || name.length > MAX_CLAIM_NAME_LENGTH);
  if (badName !== undefined) throw new HttpStatusError(400, `claim names have 1-${MAX_CLAIM_NAME_LENGTH} characters`);
  const registered = REGISTERED_CLAIMS.filter((name) => Object.hasOwn(claims, name));
  if (registered.length > 0) {
    throw new HttpStatusError(400, `claims may not set ${registered.join(', ')}: use the options issuer, sub, aud, expiresIn and notBefore`);
  }
  return claims;
}

/** A UID that stays the same for a service account across restarts, formatted like a Kubernetes UID. */
function stableUid(namespace: string, serviceAccount: string): string {
  const hex = createHash('sha256').update(`serviceaccount/${namespace}/${serviceAccount}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
