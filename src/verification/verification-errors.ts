import { CodedError, errorCodes } from '../common/coded-error';
import { ProblemError } from '../common/problem';
import type { VerificationBusyError } from '../sigstore/bundle-verification-pool';

/** Why a verification could not be made at all (a signature that does not verify is an answer, not one of these). */
export const VERIFICATION_ERROR_CODES = errorCodes('TRUST_ROOT_NOT_FOUND', 'TRUST_ROOT_UNAVAILABLE', 'INVALID_POLICY', 'VERIFICATION_BUSY');
export type VerificationErrorCode = keyof typeof VERIFICATION_ERROR_CODES;

/** Thrown by verification code that both requests and the verify steps run; never an HTTP problem itself. */
export class VerificationError extends CodedError<VerificationErrorCode> {
  constructor(code: VerificationErrorCode, message: string, options: { transient?: boolean; retryAfterMs?: number; cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'VerificationError';
  }
}

const PROBLEMS: Record<VerificationErrorCode, { status: number; title: string }> = {
  TRUST_ROOT_NOT_FOUND: { status: 422, title: 'No such trust root' },
  TRUST_ROOT_UNAVAILABLE: { status: 503, title: 'The trust root cannot be loaded' },
  INVALID_POLICY: { status: 400, title: 'The verification policy is not valid' },
  VERIFICATION_BUSY: { status: 503, title: 'Too many verifications are waiting' },
};

/** A VerificationError as the caller of a request sees it; other errors pass unchanged. For the edge only. */
export function verificationProblem(error: unknown): unknown {
  if (!(error instanceof VerificationError)) return error;
  const { status, title } = PROBLEMS[error.code];
  const headers = error.retryAfterMs === undefined ? undefined : { 'Retry-After': String(Math.ceil(error.retryAfterMs / 1000)) };
  return new ProblemError(status, error.code, title, error.message, {}, headers);
}

/** The verification threads' queue is full: the caller may try again shortly (503, Retry-After). */
export function verificationBusy(error: VerificationBusyError): VerificationError {
  return new VerificationError('VERIFICATION_BUSY', error.message, { transient: true, retryAfterMs: error.retryAfterMs, cause: error });
}
