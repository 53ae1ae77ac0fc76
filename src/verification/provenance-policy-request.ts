import { RegExpRefused, WholeStringRegExp } from '../common/caller-regexp';
import { MAX_POLICY_FIELD_LENGTH } from '../common/field-limits';
import { ProblemError } from '../common/problem';
import type { SignerPolicy } from '../sigstore/signer-policy';
import type { ProvenancePolicy } from './provenance-verification';

export const PROVENANCE_POLICY_FIELDS = ['builderId', 'builderIdRegExp', 'sourceDigest', 'sourceRepository', 'builder'] as const;
const SHA256_DIGEST = /^sha256:[0-9a-fA-F]{64}$/;

/**
 * Reads `policy.provenance` of a verification request (`{}` asks for a valid attestation and nothing
 * more); a policy that cannot be read is a 400 problem, a refused pattern a 422. The attestation's
 * builder id is checked against its certificate identity, so a key policy cannot ask for provenance.
 */
export function buildProvenancePolicy(input: unknown, signer: SignerPolicy): ProvenancePolicy {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) invalid('policy.provenance must be an object');
  if (signer.kind === 'public-key') {
    invalid('policy.provenance needs a certificate identity policy, not policy.publicKey: the builder id is checked against the signing certificate');
  }
  const fields = input as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !(PROVENANCE_POLICY_FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) invalid(`unknown policy.provenance field(s): ${unknown.join(', ')}; known: ${PROVENANCE_POLICY_FIELDS.join(', ')}`);
  for (const field of PROVENANCE_POLICY_FIELDS) {
    const value = fields[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length === 0) invalid(`policy.provenance.${field} must be a non-empty string`);
    if (value.length > MAX_POLICY_FIELD_LENGTH) invalid(`policy.provenance.${field} must be at most ${MAX_POLICY_FIELD_LENGTH} characters`);
  }
  const given = (field: (typeof PROVENANCE_POLICY_FIELDS)[number]) => fields[field] as string | undefined;

  const policy: ProvenancePolicy = {};
  const builderId = given('builderId');
  const builderIdRegExp = given('builderIdRegExp');
  if (builderId !== undefined && builderIdRegExp !== undefined) invalid('give policy.provenance.builderId or policy.provenance.builderIdRegExp, not both');
  if (builderId !== undefined) policy.builderId = { kind: 'exact', value: builderId };
  if (builderIdRegExp !== undefined) policy.builderId = { kind: 'regexp', source: builderIdRegExp, regexp: compile(builderIdRegExp) };
  const sourceDigest = given('sourceDigest');
  if (sourceDigest !== undefined) {
    if (!SHA256_DIGEST.test(sourceDigest)) invalid('policy.provenance.sourceDigest must be sha256:<64 hex digits> (the digest of the source archive)');
    policy.sourceDigest = sourceDigest.toLowerCase();
  }
  const sourceRepository = given('sourceRepository');
  if (sourceRepository !== undefined) policy.sourceRepository = sourceRepository;
  const builder = given('builder');
  if (builder !== undefined) policy.builder = builder;
  return policy;
}

function compile(pattern: string): WholeStringRegExp {
  try {
    return WholeStringRegExp.compile(pattern);
  } catch (error) {
    if (!(error instanceof RegExpRefused)) throw error;
    // 422: the request is well formed, but the pattern is one the (linear-time) engine will not run.
    throw new ProblemError(422, 'INVALID_REGEXP', 'A regular expression in the policy is refused', `policy.provenance.builderIdRegExp: ${error.reason}`, {
      field: 'policy.provenance.builderIdRegExp',
    });
  }
}

function invalid(detail: string): never {
  throw new ProblemError(400, 'INVALID_POLICY', 'The verification policy is not valid', detail);
}
