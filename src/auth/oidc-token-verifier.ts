import { decodeJwt, decodeProtectedHeader, errors as joseErrors, type JWTPayload, jwtVerify, type JWTVerifyOptions, type KeyLike } from 'jose';
import { IssuerKeys, type IssuerKeysOptions } from './issuer-keys';
import { TokenVerificationError } from './token-verification-error';

/** Asymmetric JWS algorithms only: never `none`, never HS* (a shared secret would be the issuer's public key). */
export const TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** Clock skew allowed on `exp` and `nbf` between the issuer and this service. */
export const CLOCK_TOLERANCE_SECONDS = 60;

export interface OidcTokenVerifierOptions extends IssuerKeysOptions {
  /** The clock (tests). */
  now?: () => Date;
}

/** What is read from a token before anything is verified: only to choose the rules and keys. */
export interface UnverifiedToken {
  issuer: string;
  algorithm: string;
}

export interface VerifiedToken {
  issuer: string;
  subject: string;
  audiences: string[];
  claims: JWTPayload;
}

const MAX_ISSUER_SHOWN = 200;

/**
 * Reads a token's issuer and algorithm, unverified. Throws TOKEN_MALFORMED for what is not a JWT with
 * a string `iss`, TOKEN_ALGORITHM_NOT_ALLOWED for a symmetric or `none` algorithm.
 */
export function readUnverifiedToken(token: string): UnverifiedToken {
  let header: { alg?: unknown };
  let payload: JWTPayload;
  try {
    header = decodeProtectedHeader(token);
    payload = decodeJwt(token);
  } catch (error) {
    throw new TokenVerificationError('TOKEN_MALFORMED', `the bearer token is not a JWT: ${(error as Error).message}`);
  }
  if (typeof header.alg !== 'string') throw new TokenVerificationError('TOKEN_MALFORMED', 'the token names no signature algorithm (alg)');
  if (!(TOKEN_ALGORITHMS as readonly string[]).includes(header.alg)) {
    throw new TokenVerificationError(
      'TOKEN_ALGORITHM_NOT_ALLOWED',
      `the token is signed with ${JSON.stringify(header.alg.slice(0, 20))}; only asymmetric algorithms are accepted (${TOKEN_ALGORITHMS.join(', ')})`,
    );
  }
  if (typeof payload.iss !== 'string' || payload.iss === '') throw new TokenVerificationError('TOKEN_MALFORMED', 'the token has no iss (issuer) claim');
  return { issuer: payload.iss, algorithm: header.alg };
}

/** An issuer as problem details show it: caller-controlled text, so bounded. */
export const shownIssuer = (issuer: string): string => JSON.stringify(issuer.length > MAX_ISSUER_SHOWN ? `${issuer.slice(0, MAX_ISSUER_SHOWN)}…` : issuer);

/**
 * Verifies CI and workload OIDC tokens with jose: the signature with the issuer's published keys
 * (IssuerKeys: discovery, JWKS, rotation), the issuer, one of the expected audiences, `exp` and `nbf`
 * with CLOCK_TOLERANCE_SECONDS of leeway, asymmetric algorithms only, and a `sub`. Each refusal is a
 * TokenVerificationError with its own code.
 */
export class OidcTokenVerifier {
  private readonly keys = new Map<string, IssuerKeys>();

  constructor(private readonly options: OidcTokenVerifierOptions) {}

  async verify(token: string, expected: { issuer: string; audiences: readonly string[] }): Promise<VerifiedToken> {
    const keys = this.issuerKeys(expected.issuer);
    const verifyOptions: JWTVerifyOptions = {
      issuer: expected.issuer,
      audience: [...expected.audiences],
      algorithms: [...TOKEN_ALGORITHMS],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['iss', 'sub', 'aud', 'exp'],
      ...(this.options.now ? { currentDate: this.options.now() } : {}),
    };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys.getKey, verifyOptions));
    } catch (error) {
      if (error instanceof joseErrors.JWKSMultipleMatchingKeys) payload = await verifyWithEachKey(token, error, verifyOptions, expected);
      else throw refusal(error, expected);
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new TokenVerificationError('TOKEN_MALFORMED', 'the token has no sub (subject) claim');
    const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    return { issuer: expected.issuer, subject: payload.sub, audiences, claims: payload };
  }

  /** Forgets the keys of issuers no longer trusted. */
  retainIssuers(issuers: ReadonlySet<string>): void {
    for (const issuer of this.keys.keys()) if (!issuers.has(issuer)) this.keys.delete(issuer);
  }

  private issuerKeys(issuer: string): IssuerKeys {
    let keys = this.keys.get(issuer);
    if (!keys) {
      keys = new IssuerKeys(issuer, this.options);
      this.keys.set(issuer, keys);
    }
    return keys;
  }
}

/**
 * A token without `kid` whose algorithm fits several of the issuer's keys: jose hands the candidates
 * over and leaves trying them to the caller (its documented pattern); the first that verifies wins.
 */
async function verifyWithEachKey(
  token: string,
  candidates: joseErrors.JWKSMultipleMatchingKeys,
  options: JWTVerifyOptions,
  expected: { issuer: string; audiences: readonly string[] },
): Promise<JWTPayload> {
  for await (const key of candidates as unknown as AsyncIterable<KeyLike>) {
    try {
      return (await jwtVerify(token, key, options)).payload;
    } catch (error) {
      if (error instanceof joseErrors.JWSSignatureVerificationFailed) continue;
      throw refusal(error, expected);
    }
  }
  throw refusal(new joseErrors.JWSSignatureVerificationFailed(), expected);
}

/** jose's verdict as our code. */
function refusal(error: unknown, expected: { issuer: string; audiences: readonly string[] }): Error {
  if (error instanceof TokenVerificationError) return error;
  const issuer = expected.issuer;
  if (error instanceof joseErrors.JWTExpired) {
    return new TokenVerificationError('TOKEN_EXPIRED', `the token expired${at(error.payload.exp)} (${CLOCK_TOLERANCE_SECONDS} s of clock skew allowed); get a fresh one`);
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' && error.reason === 'check_failed') {
      return new TokenVerificationError('TOKEN_NOT_YET_VALID', `the token is not valid before${at(error.payload.nbf)} (${CLOCK_TOLERANCE_SECONDS} s of clock skew allowed)`);
    }
    if (error.claim === 'aud' && error.reason === 'check_failed') {
      return new TokenVerificationError(
        'TOKEN_AUDIENCE_INVALID',
        `the token's audience ${JSON.stringify(error.payload.aud ?? null).slice(0, 300)} is not ${expected.audiences.join(' or ')}: request the token for this audience (OIDC_AUDIENCE)`,
      );
    }
    if (error.claim === 'iss') return new TokenVerificationError('TOKEN_ISSUER_NOT_TRUSTED', `the token's issuer is not ${issuer}`);
    return new TokenVerificationError('TOKEN_MALFORMED', `the token's claims are not usable: ${error.message}`);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new TokenVerificationError('TOKEN_SIGNATURE_INVALID', `the token's signature does not verify with the key of ${issuer} it names`);
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey) {
    return new TokenVerificationError(
      'TOKEN_KEY_UNKNOWN',
      `the token is signed with a key (kid) that ${issuer} does not publish in its JWKS, also when fetched again (at most every 30 s)`,
    );
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed)
    return new TokenVerificationError('TOKEN_ALGORITHM_NOT_ALLOWED', `the token's algorithm is not accepted (${TOKEN_ALGORITHMS.join(', ')})`);
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid || error instanceof joseErrors.JOSENotSupported) {
    return new TokenVerificationError('TOKEN_MALFORMED', `the bearer token is not a usable JWT: ${error.message}`);
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** ` at <time>` for a plausible NumericDate (a caller may send any number). */
const at = (seconds: unknown) => (typeof seconds === 'number' && Math.abs(seconds) < 8.64e12 ? ` at ${new Date(seconds * 1000).toISOString()}` : '');
