import { ValidationError as BundleValidationError } from '@sigstore/bundle';

/**
 * Why a bundle did not verify, as a stable code callers can switch on. sigstore-js reports its own codes
 * (`TLOG_INCLUSION_PROOF_ERROR`, …); they are mapped onto these so that a library upgrade does not change
 * what the API says. The message is for people and may change.
 */
export const VERIFICATION_ERROR_CODES = {
  BUNDLE_MALFORMED: 'The bundle is not valid JSON or not a valid Sigstore bundle',
  BUNDLE_UNSUPPORTED_VERSION: 'The bundle media type names a version this service does not read',
  TRUSTED_ROOT_MALFORMED: 'The trusted root is not a valid Sigstore trusted_root.json',
  ARTIFACT_MISMATCH: 'The bundle does not sign the given artifact or digest',
  DIGEST_MODE_UNSUPPORTED: 'The signature cannot be checked against a digest alone; send the artifact',
  POLICY_MATERIAL_MISMATCH: 'The bundle is signed with another kind of key than the policy names',
  POLICY_IDENTITY_MISMATCH: 'The certificate identity does not match the policy',
  POLICY_ISSUER_MISMATCH: 'The certificate OIDC issuer does not match the policy',
  PUBLIC_KEY_INVALID: 'The public key cannot be used to verify the bundle',
  CERTIFICATE_CHAIN_INCLUDES_ROOT: 'The bundle carries a root certificate in its chain',
  CERTIFICATE_INVALID: 'The signing certificate does not chain to a trusted CA, or its SCT is invalid, at the signing time',
  SIGNATURE_INVALID: 'The signature does not verify',
  TIMESTAMP_INVALID: 'A signed timestamp is invalid, or there are too few',
  TLOG_ENTRY_INVALID: 'The transparency log entries are invalid, or there are too few',
  TLOG_BODY_MISMATCH: 'The transparency log entry does not record this signature',
  TLOG_INCLUSION_PROOF_INVALID: 'The inclusion proof or its checkpoint does not verify',
  TLOG_INCLUSION_PROMISE_INVALID: 'The signed entry timestamp (inclusion promise) does not verify',
  TLOG_INCLUSION_MISSING: 'The transparency log entry has neither an inclusion proof nor a promise',
  POLICY_MISMATCH: 'The signer does not match the policy',
  VERIFICATION_FAILED: 'The bundle could not be verified',
  VERIFIER_FAILED: 'The verifying thread failed or ran out of time on this bundle (it was replaced)',
} as const;

export type VerificationErrorCode = keyof typeof VERIFICATION_ERROR_CODES;

/** sigstore-js (@sigstore/verify) error codes and what they mean here. */
const SIGSTORE_CODES: Record<string, VerificationErrorCode> = {
  CERTIFICATE_ERROR: 'CERTIFICATE_INVALID',
  PUBLIC_KEY_ERROR: 'PUBLIC_KEY_INVALID',
  SIGNATURE_ERROR: 'SIGNATURE_INVALID',
  TIMESTAMP_ERROR: 'TIMESTAMP_INVALID',
  TLOG_ERROR: 'TLOG_ENTRY_INVALID',
  TLOG_BODY_ERROR: 'TLOG_BODY_MISMATCH',
  TLOG_INCLUSION_PROOF_ERROR: 'TLOG_INCLUSION_PROOF_INVALID',
  TLOG_INCLUSION_PROMISE_ERROR: 'TLOG_INCLUSION_PROMISE_INVALID',
  TLOG_MISSING_INCLUSION_ERROR: 'TLOG_INCLUSION_MISSING',
  UNTRUSTED_SIGNER_ERROR: 'POLICY_MISMATCH',
};

/** Errors of @sigstore/core that are not coded: what they say about the input. */
const SIGSTORE_ERROR_NAMES: Record<string, VerificationErrorCode> = {
  RFC3161TimestampVerificationError: 'TIMESTAMP_INVALID',
  ASN1ParseError: 'BUNDLE_MALFORMED',
  ASN1TypeError: 'BUNDLE_MALFORMED',
};

/** A failed check of ours, coded like sigstore-js's VerificationError. */
export class BundleVerificationError extends Error {
  constructor(
    readonly code: VerificationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BundleVerificationError';
  }
}

export interface VerificationFailure {
  code: VerificationErrorCode;
  message: string;
}

/** What any error thrown while verifying means for the caller: never rethrown, always a coded failure. */
export function toVerificationFailure(error: unknown): VerificationFailure {
  if (error instanceof BundleVerificationError) return { code: error.code, message: describeError(error) };
  if (error instanceof BundleValidationError) return { code: 'BUNDLE_MALFORMED', message: describeError(error) };
  const sigstoreCode = (error as { code?: unknown } | null)?.code;
  if (typeof sigstoreCode === 'string' && SIGSTORE_CODES[sigstoreCode]) return { code: SIGSTORE_CODES[sigstoreCode], message: describeError(error) };
  const name = (error as { name?: unknown } | null)?.name;
  if (typeof name === 'string' && SIGSTORE_ERROR_NAMES[name]) return { code: SIGSTORE_ERROR_NAMES[name], message: describeError(error) };
  return { code: 'VERIFICATION_FAILED', message: describeError(error) };
}

/** The message and those of its causes ("Failed to verify certificate chain: certificate is not valid…"). */
export function describeError(error: unknown): string {
  const messages: string[] = [];
  for (let current: unknown = error; current && messages.length < 4; current = (current as { cause?: unknown }).cause) {
    const message = current instanceof Error ? current.message : typeof current === 'string' ? current : '';
    if (message && !messages.includes(message)) messages.push(message);
  }
  return messages.join(': ') || VERIFICATION_ERROR_CODES.VERIFICATION_FAILED;
}
