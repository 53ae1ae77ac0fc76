import { Injectable, OnModuleInit } from '@nestjs/common';
import { bundleFromJSON } from '@sigstore/bundle';
import type { JobRow } from '../database/database.types';
import { StepError } from '../pipeline/step-error';
import { StepHandlerRegistry } from '../pipeline/step-handler.registry';
import { OCI_MANIFEST_MEDIA_TYPE } from '../registry/oci-media-types';
import { RegistryClient } from '../registry/registry-client';
import { BundleVerifier } from '../verification/bundle-verifier';
import { ArtifactSigner } from './artifact-signer';
import { COSIGN_ANNOTATIONS, cosignPayload, cosignSignatureTag, parseSignatureManifest } from './cosign-classic-signature';
import { dockerReference } from '../registry/oci-reference';
import { BUNDLE_MEDIA_TYPE } from './sigstore-bundle-referrer';
import { SignatureRecords } from './signature-records.repository';
import { signatureSummary } from './signature-summary';
import { signingTarget } from './signing-targets';

/**
 * The sign and verify steps of publish and sign jobs.
 *
 * The verify step here checks what the sign step wrote: each recorded bundle verifies against the
 * trust root with its own signer's identity, and each signature is present in the registry (the `.sig`
 * layer, the bundle referrer). Verifying against a caller's identity policy is the job of
 * POST /v1/verifications.
 */
@Injectable()
export class SignSteps implements OnModuleInit {
  constructor(
    private readonly handlers: StepHandlerRegistry,
    private readonly signer: ArtifactSigner,
    private readonly records: SignatureRecords,
    private readonly verifier: BundleVerifier,
    private readonly registry: RegistryClient,
  ) {}

  onModuleInit(): void {
    for (const jobType of ['publish', 'sign'] as const) {
      this.handlers.register({ jobType, step: 'sign', run: (job, context) => this.sign(job, context.signal) });
      this.handlers.register({ jobType, step: 'verify', run: (job, context) => this.verify(job, context.signal) });
    }
  }

  async sign(job: JobRow, signal: AbortSignal): Promise<Record<string, unknown>> {
    const rows = await this.signer.sign(signingTarget(job), signal);
    return { signatures: rows.map(signatureSummary) };
  }

  async verify(job: JobRow, signal: AbortSignal): Promise<Record<string, unknown>> {
    const target = signingTarget(job);
    const rows = await this.records.findForJob(job.id);
    if (rows.length === 0) throw StepError.permanent('NO_SIGNATURES', 'the sign step recorded no signature');
    const payload = cosignPayload({ dockerReference: dockerReference(target.repository), manifestDigest: target.manifestDigest });
    const checks = [];
    for (const row of rows) {
      const bundle = bundleFromJSON(row.bundle);
      try {
        await this.verifier.verify(bundle, { identity: row.identity, issuer: row.issuer }, row.format === 'cosign-classic' ? payload : undefined);
      } catch (error) {
        throw StepError.permanent('SIGNATURE_INVALID', `the ${row.format} signature does not verify: ${(error as Error).message}`);
      }
      if (row.format === 'cosign-classic') {
        const sig = await this.registry.getManifest(target.repository, cosignSignatureTag(target.manifestDigest), [OCI_MANIFEST_MEDIA_TYPE], { signal });
        const signature = bundle.content.$case === 'messageSignature' ? bundle.content.messageSignature.signature.toString('base64') : '';
        const present = sig !== undefined && parseSignatureManifest(sig.bytes).some((l) => l.annotations?.[COSIGN_ANNOTATIONS.signature] === signature);
        if (!present) throw StepError.transient('SIGNATURE_NOT_ATTACHED', `the cosign signature is not in ${cosignSignatureTag(target.manifestDigest)} yet`);
      } else {
        const { index } = await this.registry.listReferrers(target.repository, target.manifestDigest, { artifactType: BUNDLE_MEDIA_TYPE, signal });
        if (index.manifests.length === 0) throw StepError.transient('SIGNATURE_NOT_ATTACHED', 'the bundle referrer is not listed yet');
      }
      checks.push({ id: row.id, format: row.format, verified: true, identity: row.identity, issuer: row.issuer });
    }
    return {
      verification: {
        verified: true,
        policy: 'signer identity',
        detail: 'each signature verifies against the trusted root with the identity of its own certificate, and is attached in the registry',
        signatures: checks,
      },
    };
  }
}
