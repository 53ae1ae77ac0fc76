import { CodedError, errorCodes } from '../common/coded-error';

/**
 * Why a caller's OIDC token was refused. Every code but OIDC_ISSUER_UNAVAILABLE is the token's fault
 * (401); OIDC_ISSUER_UNAVAILABLE is the issuer's (its discovery document or keys could not be had: 503).
 */
export const TOKEN_ERROR_CODES = errorCodes(
  'TOKEN_MALFORMED',
  'TOKEN_ALGORITHM_NOT_ALLOWED',
  'TOKEN_ISSUER_NOT_TRUSTED',
  'TOKEN_AUDIENCE_INVALID',
  'TOKEN_EXPIRED',
  'TOKEN_NOT_YET_VALID',
  'TOKEN_SIGNATURE_INVALID',
  'TOKEN_KEY_UNKNOWN',
  'OIDC_ISSUER_UNAVAILABLE',
);

export type TokenErrorCode = keyof typeof TOKEN_ERROR_CODES;

export class TokenVerificationError extends CodedError<TokenErrorCode> {
  constructor(code: TokenErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, transient: code === 'OIDC_ISSUER_UNAVAILABLE' });
    this.name = 'TokenVerificationError';
  }
}
