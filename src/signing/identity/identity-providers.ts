import { readFile } from 'node:fs/promises';
import { IdentityTokenError } from './identity-errors';
import { SIGSTORE_AUDIENCE } from './workload-token';

/**
 * Where the worker's workload-identity OIDC token comes from. Each signature asks for a fresh one:
 * tokens rotate, and a token read once at start would expire.
 */
export interface IdentityTokenSource {
  readonly description: string;
  getToken(signal?: AbortSignal): Promise<string>;
}

/**
 * A token file kept fresh by the platform: a Kubernetes projected service-account token
 * (`audience: sigstore`), a SPIFFE JWT-SVID file, or the local stack's token file. Re-read every time.
 */
export class TokenFileSource implements IdentityTokenSource {
  constructor(private readonly path: string) {}

  get description(): string {
    return `token file ${this.path}`;
  }

  async getToken(): Promise<string> {
    try {
      const token = (await readFile(this.path, 'utf8')).trim();
      if (token === '') throw IdentityTokenError.transient('IDENTITY_TOKEN_UNAVAILABLE', `the identity token file ${this.path} is empty`, 5_000);
      return token;
    } catch (error) {
      if (error instanceof IdentityTokenError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      // A projected token may appear a moment after the pod starts: missing is worth a retry.
      throw IdentityTokenError.transient('IDENTITY_TOKEN_UNAVAILABLE', `cannot read the identity token file ${this.path} (${code ?? String(error)})`, 5_000);
    }
  }
}

/** GitHub Actions' OIDC endpoint (`permissions: id-token: write`). */
export class GitHubActionsSource implements IdentityTokenSource {
  readonly description = 'GitHub Actions OIDC';

  constructor(
    private readonly requestUrl: string,
    private readonly requestToken: string,
    private readonly audience = SIGSTORE_AUDIENCE,
  ) {}

  async getToken(signal?: AbortSignal): Promise<string> {
    const url = new URL(this.requestUrl);
    url.searchParams.set('audience', this.audience);
    const body = await fetchJson(url, { headers: { authorization: `bearer ${this.requestToken}`, accept: 'application/json' }, signal }, this.description);
    const value = (body as { value?: unknown }).value;
    if (typeof value !== 'string') throw IdentityTokenError.permanent('IDENTITY_TOKEN_UNAVAILABLE', 'GitHub Actions answered without a token value');
    return value;
  }
}

/** The GCP metadata server's identity endpoint (a service account's ID token). */
export class GcpMetadataSource implements IdentityTokenSource {
  readonly description = 'GCP metadata server';

  constructor(
    private readonly metadataUrl = 'http://metadata.google.internal',
    private readonly audience = SIGSTORE_AUDIENCE,
  ) {}

  async getToken(signal?: AbortSignal): Promise<string> {
    const url = new URL('/computeMetadata/v1/instance/service-accounts/default/identity', this.metadataUrl);
    url.searchParams.set('audience', this.audience);
    url.searchParams.set('format', 'full');
    const response = await request(url, { headers: { 'metadata-flavor': 'Google' }, signal }, this.description);
    return (await response.text()).trim();
  }
}

/** A fixed token from configuration: for development only, it expires and is never refreshed. */
export class StaticTokenSource implements IdentityTokenSource {
  readonly description = 'static token';

  constructor(private readonly token: string) {}

  async getToken(): Promise<string> {
    return this.token;
  }
}

async function request(url: URL, init: RequestInit, source: string): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(10_000) });
  } catch (error) {
    throw IdentityTokenError.transient('IDENTITY_TOKEN_UNAVAILABLE', `cannot reach the ${source} (${(error as Error).message})`);
  }
  if (!response.ok) {
    const transient = response.status >= 500 || response.status === 429;
    const message = `the ${source} answered HTTP ${response.status} when asked for an identity token`;
    throw transient ? IdentityTokenError.transient('IDENTITY_TOKEN_UNAVAILABLE', message) : IdentityTokenError.permanent('IDENTITY_TOKEN_REFUSED', message);
  }
  return response;
}

async function fetchJson(url: URL, init: RequestInit, source: string): Promise<unknown> {
  const response = await request(url, init, source);
  try {
    return await response.json();
  } catch {
    throw IdentityTokenError.transient('IDENTITY_TOKEN_UNAVAILABLE', `the ${source} answered with a body that is not JSON`);
  }
}
