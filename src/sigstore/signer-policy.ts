import type { Signer } from '@sigstore/verify';
import type { WholeStringRegExp } from '../common/caller-regexp';
import { BundleVerificationError } from './verification-error';

/** How a certificate field must read: exactly, or matching a whole-string regular expression (RE2). */
export type StringMatcher = { kind: 'exact'; value: string } | { kind: 'regexp'; source: string; regexp: WholeStringRegExp };

/** Who must have signed: a Fulcio certificate's identity and OIDC issuer, or the holder of a key. */
export type SignerPolicy = { kind: 'certificate'; identity: StringMatcher; issuer: StringMatcher } | { kind: 'public-key'; publicKeyPem: string };

export function matches(matcher: StringMatcher, value: string | undefined): boolean {
  if (value === undefined) return false;
  return matcher.kind === 'exact' ? value === matcher.value : matcher.regexp.test(value);
}

export function describeMatcher(matcher: StringMatcher): string {
  return matcher.kind === 'exact' ? JSON.stringify(matcher.value) : `/${matcher.source}/ (whole string)`;
}

/**
 * Checks a verified signer against a certificate policy. This is done here rather than by
 * @sigstore/verify's policy, which treats a string identity as an unanchored regular expression.
 */
export function checkSigner(policy: SignerPolicy, signer: Signer): void {
  if (policy.kind !== 'certificate') return;
  const identity = signer.identity?.subjectAlternativeName;
  const issuer = signer.identity?.extensions?.issuer;
  if (!matches(policy.identity, identity)) {
    throw new BundleVerificationError('POLICY_IDENTITY_MISMATCH', `certificate identity ${JSON.stringify(identity ?? null)} does not match ${describeMatcher(policy.identity)}`);
  }
  if (!matches(policy.issuer, issuer)) {
    throw new BundleVerificationError('POLICY_ISSUER_MISMATCH', `certificate OIDC issuer ${JSON.stringify(issuer ?? null)} does not match ${describeMatcher(policy.issuer)}`);
  }
}

/** A certificate policy needs a keyless (certificate) bundle; a key policy a bundle signed with a key. */
export function checkSigningMaterial(policy: SignerPolicy, material: 'certificate' | 'public-key'): void {
  if (policy.kind === 'certificate' && material === 'public-key') {
    throw new BundleVerificationError('POLICY_MATERIAL_MISMATCH', 'the bundle is signed with a public key, not a certificate: verify it with policy.publicKey');
  }
  if (policy.kind === 'public-key' && material === 'certificate') {
    throw new BundleVerificationError(
      'POLICY_MATERIAL_MISMATCH',
      'the bundle is signed with a certificate: verify it with a certificate identity and issuer, not policy.publicKey',
    );
  }
}
