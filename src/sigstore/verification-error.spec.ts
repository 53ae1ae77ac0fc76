import { ValidationError } from '@sigstore/bundle';
import { PolicyError, VerificationError } from '@sigstore/verify';
import { BundleVerificationError, VERIFICATION_ERROR_CODES, toVerificationFailure } from './verification-error';

describe('toVerificationFailure', () => {
  it.each([
    ['CERTIFICATE_ERROR', 'CERTIFICATE_INVALID'],
    ['PUBLIC_KEY_ERROR', 'PUBLIC_KEY_INVALID'],
    ['SIGNATURE_ERROR', 'SIGNATURE_INVALID'],
    ['TIMESTAMP_ERROR', 'TIMESTAMP_INVALID'],
    ['TLOG_ERROR', 'TLOG_ENTRY_INVALID'],
    ['TLOG_BODY_ERROR', 'TLOG_BODY_MISMATCH'],
    ['TLOG_INCLUSION_PROOF_ERROR', 'TLOG_INCLUSION_PROOF_INVALID'],
    ['TLOG_INCLUSION_PROMISE_ERROR', 'TLOG_INCLUSION_PROMISE_INVALID'],
    ['TLOG_MISSING_INCLUSION_ERROR', 'TLOG_INCLUSION_MISSING'],
  ])('maps sigstore-js %s to %s', (sigstoreCode, code) => {
    expect(toVerificationFailure(new VerificationError({ code: sigstoreCode as never, message: 'it failed' }))).toEqual({ code, message: 'it failed' });
  });

  it('maps a sigstore-js policy error', () => {
    expect(toVerificationFailure(new PolicyError({ code: 'UNTRUSTED_SIGNER_ERROR', message: 'no' })).code).toBe('POLICY_MISMATCH');
  });

  it('keeps the code of its own errors', () => {
    expect(toVerificationFailure(new BundleVerificationError('ARTIFACT_MISMATCH', 'not this one'))).toEqual({ code: 'ARTIFACT_MISMATCH', message: 'not this one' });
  });

  it('calls a bundle that @sigstore/bundle refuses malformed', () => {
    expect(toVerificationFailure(new ValidationError('invalid bundle', ['mediaType'])).code).toBe('BUNDLE_MALFORMED');
  });

  it('reads uncoded @sigstore/core errors by name', () => {
    const timestamp = Object.assign(new Error('message imprint does not match'), { name: 'RFC3161TimestampVerificationError' });
    const asn1 = Object.assign(new Error('invalid length'), { name: 'ASN1ParseError' });
    expect(toVerificationFailure(timestamp).code).toBe('TIMESTAMP_INVALID');
    expect(toVerificationFailure(asn1).code).toBe('BUNDLE_MALFORMED');
  });

  it('gives anything else a generic code, never an exception', () => {
    expect(toVerificationFailure(new TypeError("Cannot read properties of undefined (reading 'envelope')"))).toEqual({
      code: 'VERIFICATION_FAILED',
      message: "Cannot read properties of undefined (reading 'envelope')",
    });
    expect(toVerificationFailure(undefined)).toEqual({ code: 'VERIFICATION_FAILED', message: VERIFICATION_ERROR_CODES.VERIFICATION_FAILED });
    expect(toVerificationFailure({ code: 'SOMETHING_NEW' }).code).toBe('VERIFICATION_FAILED');
  });

  it('tells the causes too', () => {
    const error = new VerificationError({
      code: 'CERTIFICATE_ERROR',
      message: 'Failed to verify certificate chain',
      cause: new Error('certificate is not valid or expired at the specified date'),
    });
    expect(toVerificationFailure(error).message).toBe('Failed to verify certificate chain: certificate is not valid or expired at the specified date');
  });

  it('only produces documented codes', () => {
    const errors = [new VerificationError({ code: 'TLOG_ERROR', message: '' }), new Error('x'), new ValidationError('x', [])];
    for (const error of errors) expect(Object.keys(VERIFICATION_ERROR_CODES)).toContain(toVerificationFailure(error).code);
  });
});
