import { CodedError, errorCodes } from '../../common/coded-error';

/** Why no usable workload identity token could be had. */
export const IDENTITY_ERROR_CODES = errorCodes(
  'IDENTITY_TOKEN_UNAVAILABLE',
  'IDENTITY_TOKEN_REFUSED',
  'IDENTITY_TOKEN_MALFORMED',
  'IDENTITY_TOKEN_WRONG_AUDIENCE',
  'IDENTITY_TOKEN_EXPIRED',
);
export type IdentityErrorCode = keyof typeof IDENTITY_ERROR_CODES;

export class IdentityTokenError extends CodedError<IdentityErrorCode> {
  constructor(code: IdentityErrorCode, message: string, options: { transient?: boolean; retryAfterMs?: number; cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'IdentityTokenError';
  }

  static permanent(code: IdentityErrorCode, message: string): IdentityTokenError {
    return new IdentityTokenError(code, message);
  }

  static transient(code: IdentityErrorCode, message: string, retryAfterMs?: number): IdentityTokenError {
    return new IdentityTokenError(code, message, { transient: true, retryAfterMs });
  }
}
