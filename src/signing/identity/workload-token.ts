import { IdentityTokenError } from './identity-errors';

/** The claims of a workload-identity token that matter before asking Fulcio for a certificate. */
export interface WorkloadTokenClaims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
}

/** Audience Fulcio requires in every identity token. */
export const SIGSTORE_AUDIENCE = 'sigstore';

/**
 * Reads a JWT's claims without verifying it (Fulcio verifies it) and checks what Fulcio would refuse,
 * so that the caller learns which claim is wrong instead of a bare 401: `aud` must contain `sigstore`
 * and `exp` must be ahead (with a margin for the round trips to Fulcio and Rekor).
 *
 * An expired token is transient: a projected token file is rewritten well before expiry, so a retry
 * reads a fresh one. A wrong audience or a malformed token is permanent.
 */
export function checkWorkloadToken(token: string, now: Date = new Date(), marginSeconds = 30): WorkloadTokenClaims {
  const claims = decodeClaims(token);
  if (!claims.aud.includes(SIGSTORE_AUDIENCE)) {
    throw IdentityTokenError.permanent(
      'IDENTITY_TOKEN_WRONG_AUDIENCE',
      `the workload identity token's audience is ${JSON.stringify(claims.aud)}; Fulcio requires "${SIGSTORE_AUDIENCE}" (for a Kubernetes projected token set audience: sigstore)`,
    );
  }
  const secondsLeft = claims.exp - Math.floor(now.getTime() / 1000);
  if (secondsLeft <= marginSeconds) {
    throw IdentityTokenError.transient(
      'IDENTITY_TOKEN_EXPIRED',
      secondsLeft <= 0
        ? `the workload identity token expired ${-secondsLeft} s ago (exp ${new Date(claims.exp * 1000).toISOString()}); it is not being refreshed`
        : `the workload identity token expires in ${secondsLeft} s, too soon to sign with; waiting for a fresh one`,
      10_000,
    );
  }
  return claims;
}

function decodeClaims(token: string): WorkloadTokenClaims {
  const parts = token.trim().split('.');
  if (parts.length !== 3) throw malformed('it is not a JWT (expected three dot-separated parts)');
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw malformed('its payload is not base64url-encoded JSON');
  }
  if (payload === null || typeof payload !== 'object') throw malformed('its payload is not a JSON object');
  const { iss, sub, aud, exp } = payload;
  if (typeof iss !== 'string' || iss === '') throw malformed('it has no "iss" claim');
  if (typeof exp !== 'number') throw malformed('it has no numeric "exp" claim');
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
  return { iss, sub: typeof sub === 'string' ? sub : '', aud: audiences, exp };
}

const malformed = (why: string) => IdentityTokenError.permanent('IDENTITY_TOKEN_MALFORMED', `the workload identity token is unusable: ${why}`);

/** Replaces anything shaped like a JWT in a text (library error messages can quote the token). */
export function redactTokens(text: string): string {
  return text.replace(/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[redacted token]');
}
