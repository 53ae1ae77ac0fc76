import { Injectable, OnModuleInit } from '@nestjs/common';
import type { CatalogueJob, SignedArtifactVerificationResult } from '../pipeline/job-catalogue';
import { StepError } from '../pipeline/step-error';
import { StepHandlerRegistry } from '../pipeline/step-handler.registry';
import { parseRepository } from '../registry/oci-reference';
import { ArtifactVerificationService } from './artifact-verification.service';
import { DEFAULT_TRUST_ROOT } from './trust-roots';
import type { ArtifactPolicy } from './artifact-verification';
import type { ProvenancePolicy } from './provenance-verification';
import { VerificationRecords } from './verification-records.repository';

/**
 * The verify step of publish, sign and build jobs: checks what the sign step wrote the way a consumer will,
 * through the registry (POST /v1/verifications), with the signer's own identity as the policy. Every
 * signature the sign step recorded (its result lists them) must be among those that verify.
 */
@Injectable()
export class SignedArtifactVerifyStep implements OnModuleInit {
  constructor(
    private readonly handlers: StepHandlerRegistry,
    private readonly verifications: ArtifactVerificationService,
    private readonly records: VerificationRecords,
  ) {}

  onModuleInit(): void {
    for (const jobType of ['publish', 'sign', 'build'] as const) {
      this.handlers.register({ jobType, step: 'verify', run: (job, context) => this.run(job, context.signal) });
    }
  }

  async run(job: CatalogueJob<'publish' | 'sign' | 'build'>, signal: AbortSignal): Promise<SignedArtifactVerificationResult> {
    const signed = signedArtifact(job);
    if (signed.signatures.length === 0) throw StepError.permanent('NO_SIGNATURES', 'the sign step recorded no signature');
    const { identity, issuer } = signed.signatures[0]!;
    const policy: ArtifactPolicy = {
      signer: { kind: 'certificate' as const, identity: { kind: 'exact' as const, value: identity }, issuer: { kind: 'exact' as const, value: issuer } },
      annotations: {},
      // A build's provenance is checked as a consumer would: built by this service, from this source, by this builder.
      ...(job.type === 'build' ? { provenance: buildProvenancePolicy(job, identity) } : {}),
    };
    // Live (maxAge 0): the signer's own check of what it just attached.
    const answer = await this.verifications.verifyDigest(parseRepository(signed.repository), signed.manifestDigest, policy, DEFAULT_TRUST_ROOT, signal, 0);
    const record = () =>
      this.records.record({
        reference: signed.reference,
        policy: { certificateIdentity: identity, certificateOidcIssuer: issuer },
        trustRoot: DEFAULT_TRUST_ROOT,
        answer,
        jobId: job.id,
        caller: job.caller,
      });
    if (answer.provenance && !answer.provenance.verified) {
      // Just attached, perhaps not visible yet (a registry behind a cache): retried; any other failure is a verdict.
      if (answer.provenance.error?.code === 'PROVENANCE_MISSING') throw StepError.transient('PROVENANCE_NOT_ATTACHED', 'the build provenance is not in the registry yet');
      await record();
      throw StepError.permanent(
        answer.provenance.error?.code ?? 'PROVENANCE_INVALID',
        `the build provenance does not verify: ${answer.provenance.error?.message ?? 'unknown reason'}`,
      );
    }
    for (const signature of signed.signatures) {
      const found = answer.signatures.find((s) => s.format === signature.format && s.logIndex === signature.logIndex);
      // Not attached yet is retried, so not a verdict to record; a signature that does not verify is.
      if (!found) throw StepError.transient('SIGNATURE_NOT_ATTACHED', `the ${signature.format} signature (Rekor index ${signature.logIndex}) is not in the registry yet`);
      if (!found.verified) {
        await record();
        throw StepError.permanent('SIGNATURE_INVALID', `the ${signature.format} signature does not verify: ${found.error?.message ?? 'unknown reason'}`);
      }
    }
    await record();
    return {
      verification: {
        verified: answer.verified,
        policy: { certificateIdentity: identity, certificateOidcIssuer: issuer, trustRoot: DEFAULT_TRUST_ROOT },
        signatures: answer.signatures,
        ...(answer.provenance ? { provenance: { ...answer.provenance } } : {}),
      },
    };
  }
}

/** What a build's own provenance must say: this signing identity built it, from the job's source, with the job's builder. */
function buildProvenancePolicy(job: CatalogueJob<'build'>, identity: string): ProvenancePolicy {
  const { source, builder } = job.input;
  return {
    builderId: { kind: 'exact', value: identity },
    ...(source.kind === 'archive' ? { sourceDigest: source.digest } : { sourceRepository: source.url }),
    builder: builder.name,
  };
}

/** What the job signed, from its recorded results: the push step's (publish, build) or the request (sign), and the sign step's. */
function signedArtifact(job: CatalogueJob<'publish' | 'sign' | 'build'>) {
  if (job.type === 'publish' || job.type === 'build') {
    const result = job.result;
    if (!result?.manifestDigest || !result.signatures || !result.repository) throw StepError.permanent('NOT_SIGNED', `job ${job.id} has no signed manifest to verify`);
    return {
      repository: result.repository,
      reference: result.tag ? `${result.repository}:${result.tag}` : `${result.repository}@${result.manifestDigest}`,
      manifestDigest: result.manifestDigest,
      signatures: result.signatures,
    };
  }
  const result = job.result;
  if (!result?.manifestDigest || !result.signatures) throw StepError.permanent('NOT_SIGNED', `job ${job.id} has no signed manifest to verify`);
  return { repository: job.input.repository, reference: job.input.reference, manifestDigest: result.manifestDigest, signatures: result.signatures };
}
