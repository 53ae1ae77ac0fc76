import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { pem } from '@sigstore/core';
import type { FulcioAuthority } from './fulcio-ca';
import { HttpService, HttpStatusError, jsonResponse, readJsonBody, type HttpRequest, type HttpResponse } from './http-service';
import { kubernetesServiceAccountUri } from './oidc-issuer';
import { IdentityTokenError, type OidcTokenVerifier, type VerifiedToken } from './oidc-token-verifier';

export const SIGNING_CERT_PATH = '/api/v2/signingCert';
/** Fault injection for tests of the local stack (never part of a real Fulcio). */
export const FAULTS_PATH = '/_stack/faults';
export const TRUST_BUNDLE_PATH = '/api/v2/trustBundle';
export const ROOT_CERT_PATH = '/api/v1/rootCert';

/** Fulcio's OIDC issuer extensions: .1.1 holds the raw string (deprecated), .1.8 a DER UTF8String. */
export const OID_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
export const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';

// gRPC status codes, which Fulcio's HTTP gateway puts in its JSON errors.
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_INTERNAL = 13;
const GRPC_UNAVAILABLE = 14;
const GRPC_UNAUTHENTICATED = 16;

// Fulcio's own error texts; the local Fulcio appends the precise reason after a colon.
const INVALID_IDENTITY_TOKEN = 'There was an error processing the identity token';
const INVALID_PUBLIC_KEY = 'The public key supplied in the request could not be parsed';
const INVALID_SIGNATURE = 'The signature supplied in the request could not be verified';
const INVALID_CREDENTIALS = 'There was an error processing the credentials for this request';

interface SigningCertRequest {
  readonly token: string;
  readonly publicKey: KeyObject;
  readonly proofOfPossession: Buffer;
}

/**
 * The local Fulcio: the v2 `signingCert` API over @sigstore/mock's CA and CT log, with the checks the
 * mock leaves out. The mock's handler decodes the token without verifying it and copies its `sub` into
 * the SAN; this one verifies the token against the issuer's JWKS, applies Fulcio's Kubernetes identity
 * rules (SAN URI from the `kubernetes.io` claim, issuer extensions from `iss`) and checks the proof of
 * possession (the `sub` claim signed with the requested key).
 */
export class FulcioServer {
  /** Injected latency before each certificate (tests: a worker killed while it waits for Fulcio). */
  private signingCertDelayMs = 0;

  constructor(
    private readonly authority: FulcioAuthority,
    private readonly verifier: OidcTokenVerifier,
  ) {}

  createHttpService(isReady?: () => boolean, onError?: (error: unknown) => void): HttpService {
    return new HttpService({
      name: 'fulcio',
      isReady,
      onError,
      maxBodyBytes: 256 * 1024,
      errorBody: (status, message) => ({ code: grpcCodeFor(status), message, details: [] }),
      routes: [
        { method: 'POST', path: SIGNING_CERT_PATH, handler: (request) => this.handleSigningCert(request) },
        { method: 'GET', path: TRUST_BUNDLE_PATH, handler: () => jsonResponse(200, { chains: [{ certificates: [pem.fromDER(this.authority.rootCertificate)] }] }) },
        {
          method: 'GET',
          path: ROOT_CERT_PATH,
          handler: () => ({ status: 200, body: pem.fromDER(this.authority.rootCertificate), contentType: 'application/pem-certificate-chain' }),
        },
        { method: 'PUT', path: FAULTS_PATH, handler: (request) => this.handleFaults(request) },
      ],
    });
  }

  /** Issues a certificate for a request, or throws HttpStatusError (401 for token problems, 400 for the rest). */
  async issue(input: unknown): Promise<{ leaf: Buffer; chain: Buffer[] }> {
    const request = parseSigningCertRequest(input);
    let verified: VerifiedToken;
    try {
      verified = await this.verifier.verify(request.token);
    } catch (error) {
      if (error instanceof IdentityTokenError) {
        throw new HttpStatusError(error.problem === 'issuer unavailable' ? 503 : 401, `${INVALID_IDENTITY_TOKEN}: ${error.message}`);
      }
      throw error;
    }
    const san = kubernetesIdentity(verified);
    // Fulcio's Kubernetes principal uses `sub` as the challenge the client signs.
    if (!verifySignature('sha256', Buffer.from(verified.subject), request.publicKey, request.proofOfPossession)) {
      throw new HttpStatusError(400, `${INVALID_SIGNATURE}: the proof of possession is not a signature of the token's subject by the requested key`);
    }
    const leaf = await this.authority.issueCertificate({
      publicKey: request.publicKey.export({ format: 'der', type: 'spki' }),
      subjectAltName: san,
      extensions: [
        { oid: OID_ISSUER_V1, value: verified.issuer, legacy: true },
        { oid: OID_ISSUER_V2, value: verified.issuer },
      ],
    });
    return { leaf, chain: [this.authority.rootCertificate] };
  }

  /** Test-only fault injection: `{"signingCertDelayMs": 0..60000}`. */
  private async handleFaults(request: HttpRequest): Promise<HttpResponse> {
    const body = (await readJsonBody(request)) as { signingCertDelayMs?: unknown };
    const delay = body.signingCertDelayMs;
    if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 0 || delay > 60_000) {
      throw new HttpStatusError(400, 'signingCertDelayMs must be a whole number of milliseconds, 0 to 60000');
    }
    this.signingCertDelayMs = delay;
    return jsonResponse(200, { signingCertDelayMs: delay });
  }

  private async handleSigningCert(request: HttpRequest): Promise<HttpResponse> {
    if (this.signingCertDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.signingCertDelayMs));
    const { leaf, chain } = await this.issue(await readJsonBody(request));
    // Real Fulcio returns standard PEM (64-column lines); the mock's handler returns one long line.
    return jsonResponse(201, {
      signedCertificateEmbeddedSct: { chain: { certificates: [leaf, ...chain].map((der) => pem.fromDER(der)) } },
    });
  }
}

/** The identity Fulcio certifies for a Kubernetes service-account token. */
export function kubernetesIdentity(token: VerifiedToken): string {
  const k8s = token.claims['kubernetes.io'] as { namespace?: unknown; serviceaccount?: { name?: unknown } } | undefined;
  const namespace = k8s?.namespace;
  const serviceAccount = k8s?.serviceaccount?.name;
  if (typeof namespace !== 'string' || namespace === '' || typeof serviceAccount !== 'string' || serviceAccount === '') {
    throw new HttpStatusError(401, `${INVALID_IDENTITY_TOKEN}: missing claim: token has no kubernetes.io namespace and serviceaccount.name`);
  }
  return kubernetesServiceAccountUri(namespace, serviceAccount);
}

function parseSigningCertRequest(input: unknown): SigningCertRequest {
  const body = (input ?? {}) as {
    credentials?: { oidcIdentityToken?: unknown };
    publicKeyRequest?: { publicKey?: { content?: unknown; algorithm?: unknown }; proofOfPossession?: unknown };
    certificateSigningRequest?: unknown;
  };
  const token = body.credentials?.oidcIdentityToken;
  if (typeof token !== 'string' || token === '') {
    throw new HttpStatusError(401, `${INVALID_CREDENTIALS}: credentials.oidcIdentityToken is required`);
  }
  if (body.certificateSigningRequest !== undefined) {
    throw new HttpStatusError(400, 'certificateSigningRequest is not supported by the local Fulcio; send publicKeyRequest');
  }
  const content = body.publicKeyRequest?.publicKey?.content;
  const pop = body.publicKeyRequest?.proofOfPossession;
  if (typeof content !== 'string' || typeof pop !== 'string' || pop === '') {
    throw new HttpStatusError(400, 'publicKeyRequest.publicKey.content and publicKeyRequest.proofOfPossession are required');
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(content);
  } catch (error) {
    throw new HttpStatusError(400, `${INVALID_PUBLIC_KEY}: ${error instanceof Error ? error.message : String(error)}`);
  }
  // The mock CA imports every requested key as ECDSA P-256.
  if (publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new HttpStatusError(400, `${INVALID_PUBLIC_KEY}: the local Fulcio certifies ECDSA P-256 keys only`);
  }
  return { token, publicKey, proofOfPossession: Buffer.from(pop, 'base64') };
}

function grpcCodeFor(status: number): number {
  if (status === 401) return GRPC_UNAUTHENTICATED;
  if (status === 503) return GRPC_UNAVAILABLE;
  if (status >= 500) return GRPC_INTERNAL;
  return GRPC_INVALID_ARGUMENT;
}
