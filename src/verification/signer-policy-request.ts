import { RegExpRefused, WholeStringRegExp } from '../common/caller-regexp';
import { MAX_POLICY_FIELD_LENGTH } from '../common/field-limits';
import { ProblemError } from '../common/problem';
import type { SignerPolicy, StringMatcher } from '../sigstore/signer-policy';

const POLICY_FIELDS = ['certificateIdentity', 'certificateIdentityRegExp', 'certificateOidcIssuer', 'certificateOidcIssuerRegExp', 'publicKey'] as const;
const PEM_PUBLIC_KEY = /^\s*-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/;

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
    if (value.length > MAX_POLICY_FIELD_LENGTH) invalid(`policy.${field} must be at most ${MAX_POLICY_FIELD_LENGTH} characters`);
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
