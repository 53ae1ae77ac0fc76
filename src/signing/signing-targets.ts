import type { CatalogueJob, SignJobInput } from '../pipeline/job-catalogue';
import { parseRepository } from '../registry/oci-reference';
import type { SigningTarget } from './artifact-signer';

export type { SignJobInput };

/** The manifest a job signs: from the push step's result (publish, build) or the request (sign). */
export function signingTarget(job: CatalogueJob<'publish' | 'sign' | 'build'>): SigningTarget {
  if (job.type === 'publish' || job.type === 'build') {
    const pushed = job.result;
    if (!pushed?.manifestDigest || !pushed.repository || !pushed.manifestMediaType || pushed.manifestSize === undefined || !pushed.wasmDigest || !pushed.artifactId) {
      throw new Error(`job ${job.id} has no pushed manifest to sign`);
    }
    return {
      jobId: job.id,
      repository: parseRepository(pushed.repository),
      reference: pushed.tag ? `${pushed.repository}:${pushed.tag}` : pushed.reference!,
      manifestDigest: pushed.manifestDigest,
      manifestMediaType: pushed.manifestMediaType,
      manifestSize: pushed.manifestSize,
      wasmDigest: pushed.wasmDigest,
      artifactId: pushed.artifactId,
      caller: job.caller,
      requestedBy: job.input.requestedBy ?? null,
    };
  }
  const { input } = job;
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
    requestedBy: input.requestedBy ?? null,
  };
}
