import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, type KeyLike, SignJWT } from 'jose';

/** A signing key of the test issuer; `published` keys are in its JWKS. */
export interface TestKey {
  kid: string;
  alg: 'ES256' | 'RS256';
  privateKey: KeyLike;
  jwk: JWK;
}

export async function testKey(kid: string, alg: 'ES256' | 'RS256' = 'ES256'): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/**
 * An OpenID Connect issuer for unit tests, on loopback: a discovery document and a JWKS made with jose,
 * whose keys, answers and delays the test sets, and which counts the requests it gets.
 */
export class TestIssuer {
  readonly requests = { discovery: 0, jwks: 0 };
  published: TestKey[] = [];
  /** Status to answer instead of the document (discovery, JWKS). */
  fail: { discovery?: number; jwks?: number } = {};
  delayMs: { discovery?: number; jwks?: number } = {};
  /** Replaces the discovery document. */
  discoveryOverride: Record<string, unknown> | undefined;

  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<TestIssuer> {
    let issuer: TestIssuer | undefined;
    const server = createServer((request, response) => void issuer!.handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = new TestIssuer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return issuer;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** A token of this issuer signed with `key`; `claims` override the defaults (aud, sub, iat, nbf, exp). */
  async token(key: TestKey, claims: JWTPayload = {}, header: { kid?: string | null } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const kid = header.kid === null ? undefined : (header.kid ?? key.kid);
    return new SignJWT({ iss: this.url, aud: 'wasm-signer', sub: 'repo:my-org/app:ref:refs/heads/main', iat: now, nbf: now, exp: now + 300, ...claims })
      .setProtectedHeader({ alg: key.alg, typ: 'JWT', ...(kid === undefined ? {} : { kid }) })
      .sign(key.privateKey);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', this.url).pathname;
    const which = path === '/.well-known/openid-configuration' ? 'discovery' : path === '/jwks' ? 'jwks' : undefined;
    if (!which) {
      response.writeHead(404).end();
      return;
    }
    this.requests[which]++;
    const delay = this.delayMs[which];
    if (delay) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          resolve();
        }, delay);
        this.timers.add(timer);
      });
      if (!this.server.listening) return;
    }
    const status = this.fail[which];
    if (status) {
      response.writeHead(status, { 'content-type': 'text/plain' }).end('failing on purpose');
      return;
    }
    const body = which === 'discovery' ? (this.discoveryOverride ?? { issuer: this.url, jwks_uri: `${this.url}/jwks` }) : { keys: this.published.map((key) => key.jwk) };
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
}
