import type { PushResult } from '../artifacts/publish-job';
import type { JobRow } from '../database/database.types';
import { parseRepository } from '../registry/oci-reference';
import type { SigningTarget } from './artifact-signer';

/** What a sign job carries: the manifest resolved when the request was accepted. */
export interface SignJobInput {
  /** The reference as the caller gave it (tag or digest). */
  reference: string;
  repository: string;
  tag: string | null;
  manifestDigest: string;
  manifestMediaType: string;
  manifestSize: number;
  wasmDigest: string | null;
}

/** The manifest a job signs: from the push step's result (publish) or the request (sign). */
export function signingTarget(job: JobRow): SigningTarget {
  if (job.type === 'publish') {
    const pushed = job.result as unknown as PushResult | null;
    if (!pushed?.manifestDigest) throw new Error(`job ${job.id} has no pushed manifest to sign`);
    return {
      jobId: job.id,
      repository: parseRepository(pushed.repository),
      reference: pushed.tag ? `${pushed.repository}:${pushed.tag}` : pushed.reference,
      manifestDigest: pushed.manifestDigest,
      manifestMediaType: pushed.manifestMediaType,
      manifestSize: pushed.manifestSize,
      wasmDigest: pushed.wasmDigest,
      artifactId: pushed.artifactId,
      caller: job.caller,
    };
  }
  const input = job.input as unknown as SignJobInput;
  return {
    jobId: job.id,
    repository: parseRepository(input.repository),
    reference: input.reference,
    manifestDigest: input.manifestDigest,
    manifestMediaType: input.manifestMediaType,
    manifestSize: input.manifestSize,
    wasmDigest: input.wasmDigest,
    artifactId: null,
    caller: job.caller,
  };
}
