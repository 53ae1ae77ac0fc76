import type { Signer } from '@sigstore/verify';
import { RegExpRefused, WholeStringRegExp } from '../common/caller-regexp';
import { ProblemError } from '../common/problem';
import { BundleVerificationError } from './verification-error';

/** How a certificate field must read: exactly, or matching a whole-string regular expression (RE2). */
export type StringMatcher = { kind: 'exact'; value: string } | { kind: 'regexp'; source: string; regexp: WholeStringRegExp };

/** Who must have signed: a Fulcio certificate's identity and OIDC issuer, or the holder of a key. */
export type SignerPolicy =
  | { kind: 'certificate'; identity: StringMatcher; issuer: StringMatcher }
  | { kind: 'public-key'; publicKeyPem: string };

const POLICY_FIELDS = ['certificateIdentity', 'certificateIdentityRegExp', 'certificateOidcIssuer', 'certificateOidcIssuerRegExp', 'publicKey'] as const;
const MAX_FIELD_LENGTH = 4096;
const PEM_PUBLIC_KEY = /^\s*-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/;

export function matches(matcher: StringMatcher, value: string | undefined): boolean {
  if (value === undefined) return false;
  return matcher.kind === 'exact' ? value === matcher.value : matcher.regexp.test(value);
}

export function describeMatcher(matcher: StringMatcher): string {
  return matcher.kind === 'exact' ? JSON.stringify(matcher.value) : `/${matcher.source}/ (whole string)`;
}

/** Reads the policy of a verification request; a policy that cannot be read is a 400 problem. */
export function buildSignerPolicy(input: unknown): SignerPolicy {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) invalid('policy must be an object');
  const policy = input as Record<string, unknown>;
  const unknown = Object.keys(policy).filter((key) => !(POLICY_FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) invalid(`unknown policy field(s): ${unknown.join(', ')}; known: ${POLICY_FIELDS.join(', ')}`);
  for (const field of POLICY_FIELDS) {
    const value = policy[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length === 0) invalid(`policy.${field} must be a non-empty string`);
    if (value.length > MAX_FIELD_LENGTH) invalid(`policy.${field} must be at most ${MAX_FIELD_LENGTH} characters`);
  }
  const given = (field: (typeof POLICY_FIELDS)[number]) => policy[field] as string | undefined;

  const publicKey = given('publicKey');
  const certificateFields = POLICY_FIELDS.filter((f) => f !== 'publicKey' && given(f) !== undefined);
  if (publicKey !== undefined) {
    if (certificateFields.length > 0) invalid(`give either policy.publicKey or a certificate identity and issuer, not both (also given: ${certificateFields.join(', ')})`);
    if (!PEM_PUBLIC_KEY.test(publicKey)) invalid('policy.publicKey must be a PEM "PUBLIC KEY" (SubjectPublicKeyInfo)');
    return { kind: 'public-key', publicKeyPem: publicKey };
  }
  return {
    kind: 'certificate',
    identity: matcher('certificateIdentity', given('certificateIdentity'), given('certificateIdentityRegExp')),
    issuer: matcher('certificateOidcIssuer', given('certificateOidcIssuer'), given('certificateOidcIssuerRegExp')),
  };
}

function matcher(field: string, exact: string | undefined, pattern: string | undefined): StringMatcher {
  if (exact !== undefined && pattern !== undefined) invalid(`give policy.${field} or policy.${field}RegExp, not both`);
  if (exact !== undefined) return { kind: 'exact', value: exact };
  if (pattern === undefined) invalid(`policy.${field} or policy.${field}RegExp is required (or policy.publicKey)`);
  try {
    return { kind: 'regexp', source: pattern, regexp: WholeStringRegExp.compile(pattern) };
  } catch (error) {
    if (!(error instanceof RegExpRefused)) throw error;
    // 422: the request is well formed, but the pattern is one the (linear-time) engine will not run.
    throw new ProblemError(422, 'INVALID_REGEXP', 'A regular expression in the policy is refused', `policy.${field}RegExp: ${error.reason}`, {
      field: `policy.${field}RegExp`,
    });
  }
}

function invalid(detail: string): never {
  throw new ProblemError(400, 'INVALID_POLICY', 'The verification policy is not valid', detail);
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
    throw new BundleVerificationError(
      'POLICY_IDENTITY_MISMATCH',
      `certificate identity ${JSON.stringify(identity ?? null)} does not match ${describeMatcher(policy.identity)}`,
    );
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
    throw new BundleVerificationError('POLICY_MATERIAL_MISMATCH', 'the bundle is signed with a certificate: verify it with a certificate identity and issuer, not policy.publicKey');
  }
}
