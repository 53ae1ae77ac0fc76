import { ProblemError } from '../common/problem';
import { type ArtifactInput, parseArtifactDigest } from '../sigstore/artifact-binding';

/** Exactly one of the artifact (base64) and its digest; otherwise the request cannot be answered. */
export function readArtifactInput(request: { artifact?: string; artifactDigest?: string }): ArtifactInput {
  const { artifact, artifactDigest } = request;
  if (artifact !== undefined && artifactDigest !== undefined) {
    throw new ProblemError(400, 'ARTIFACT_AMBIGUOUS', 'Give the artifact or its digest, not both', 'the request has both artifact and artifactDigest');
  }
  if (artifactDigest !== undefined) {
    const digest = parseArtifactDigest(artifactDigest);
    if (!digest) throw new ProblemError(400, 'VALIDATION_FAILED', 'The request is not valid', 'artifactDigest must be sha256:<64 hex digits>');
    return digest;
  }
  if (artifact !== undefined) return { kind: 'bytes', bytes: Buffer.from(artifact, 'base64') };
  throw new ProblemError(400, 'ARTIFACT_REQUIRED', 'The artifact or its digest is required', 'give artifact (base64) or artifactDigest (sha256:<hex>)');
}

/** Which trust root a request names: a configured one by name (`default` when none), or its own. */
export type TrustRootChoice = { kind: 'named'; name: string } | { kind: 'inline'; document: Record<string, unknown> };

export function readTrustRootChoice(request: { trustRoot?: string; trustedRoot?: Record<string, unknown> }): TrustRootChoice {
  if (request.trustRoot !== undefined && request.trustedRoot !== undefined) {
    throw new ProblemError(400, 'TRUST_ROOT_AMBIGUOUS', 'Give a trust root name or a trusted root, not both', 'the request has both trustRoot and trustedRoot');
  }
  if (request.trustedRoot !== undefined) return { kind: 'inline', document: request.trustedRoot };
  return { kind: 'named', name: request.trustRoot ?? 'default' };
}
