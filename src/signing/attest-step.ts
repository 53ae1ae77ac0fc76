import { createHash } from 'node:crypto';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { type Bundle, bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { NamedLocks } from '../database/named-lock';
import type { AttestResult, CatalogueJob } from '../pipeline/job-catalogue';
import { StepError } from '../pipeline/step-error';
import { StepHandlerRegistry } from '../pipeline/step-handler.registry';
import { VerdictInvalidations } from '../pipeline/verdict-invalidations';
import { OCI_MANIFEST_MEDIA_TYPE, sha256Digest } from '../registry/oci-media-types';
import { dockerReference, parseRepository } from '../registry/oci-reference';
import { RegistryClient } from '../registry/registry-client';
import { bundleLeafCertificate } from '../signature-formats/bundle-leaf-certificate';
import { SLSA_PROVENANCE_PREDICATE_TYPE, resolvedSourceDependency, slsaProvenanceStatement } from '../signature-formats/slsa-provenance';
import { BUNDLE_MEDIA_TYPE, OCI_EMPTY_BLOB, bundleReferrerManifest } from '../signature-formats/sigstore-bundle-referrer';
import { OwnSignatureVerifier } from '../sigstore/own-signature-verifier';
import { RekorClient } from '../sigstore/rekor-client';
import { certificateIdentity } from '../x509/certificate-identity';
import { AttestationRecords } from './attestation-records.repository';
import { SigstoreSigner } from './sigstore-signer';

/**
 * The attest step of build jobs: the build's SLSA Provenance v1 statement (subjects: the .wasm and the
 * manifest; the source, the builder and its options, the toolchain, the build log's digest), signed
 * keyless as a DSSE bundle (a `dsse` entry in Rekor), verified against the trust root, recorded, then
 * attached to the manifest as an OCI referrer exactly as cosign attaches attestations
 * (`dev.sigstore.bundle.predicateType: https://slsa.dev/provenance/v1`), with the referrers-tag fallback.
 *
 * `runDetails.builder.id` is the service's signing identity: the identity the sign step's certificates
 * name; the provenance's own certificate must name the same, or the step fails (workers that sign must
 * share one identity). Idempotent: a recorded attestation is attached again, not signed anew (only a crash
 * between signing and recording leaves an extra, unused entry in Rekor).
 */
@Injectable()
export class AttestStep implements OnModuleInit {
  constructor(
    private readonly handlers: StepHandlerRegistry,
    private readonly signer: SigstoreSigner,
    private readonly records: AttestationRecords,
    private readonly registry: RegistryClient,
    private readonly verifier: OwnSignatureVerifier,
    private readonly rekor: RekorClient,
    private readonly locks: NamedLocks,
    private readonly invalidations: VerdictInvalidations,
  ) {}

  onModuleInit(): void {
    this.handlers.register({ jobType: 'build', step: 'attest', run: (job, context) => this.attest(job, context.signal) });
  }

  async attest(job: CatalogueJob<'build'>, signal: AbortSignal): Promise<AttestResult> {
    const result = job.result;
    const built = result?.build;
    if (!built || !result.manifestDigest || !result.repository || result.manifestSize === undefined || !result.signatures?.length) {
      throw StepError.permanent('BUILD_RESULT_MISSING', `job ${job.id} has no built, pushed and signed component to attest`);
    }
    const repo = parseRepository(result.repository);
    const manifestDigest = result.manifestDigest;
    const builderId = result.signatures[0]!.identity;
    let row = await this.records.find(job.id, SLSA_PROVENANCE_PREDICATE_TYPE);
    if (!row) {
      const statement = slsaProvenanceStatement({
        subjects: [
          { name: built.title, digest: built.wasm.digest },
          { name: dockerReference(repo), digest: result.manifestDigest },
        ],
        externalParameters: {
          source:
            built.source.kind === 'archive'
              ? { kind: 'archive', digest: built.source.digest, fileName: built.source.fileName }
              : { kind: 'git', url: built.source.url, commit: built.source.commit },
          builder: { name: built.builder, options: job.input.builder.options },
          repository: job.input.repository,
          tag: job.input.tag,
        },
        internalParameters: { toolchain: built.toolchain, sandbox: built.limits },
        resolvedDependencies: [
          resolvedSourceDependency(
            built.source.kind === 'archive'
              ? { kind: 'archive', digest: built.source.digest, fileName: built.source.fileName }
              : { kind: 'git', url: built.source.url, commit: built.source.commit },
          ),
          ...(built.cargoLockDigest ? [{ name: 'Cargo.lock', digest: { sha256: built.cargoLockDigest.slice('sha256:'.length) } }] : []),
          ...built.toolchain.map((t) => ({ name: t.name, uri: t.uri, ...(t.digest ? { digest: { sha256: t.digest.sha256 } } : {}) })),
        ],
        builderId,
        invocationId: job.id,
        startedOn: built.startedAt,
        finishedOn: built.finishedAt,
        byproducts: [{ name: 'build.log', digest: { sha256: built.logDigest.slice('sha256:'.length) }, mediaType: 'text/plain; charset=utf-8' }],
      });
      // The step's own session: one certificate for its one signature (as the sign step's session).
      const bundle = await this.signer.session(job.id).signStatement(statement);
      const signedAs = await this.verifyOwnBundle(bundle);
      if (signedAs.identity !== builderId) {
        throw StepError.permanent(
          'PROVENANCE_IDENTITY_MISMATCH',
          `the provenance was signed as ${signedAs.identity} but names the builder ${builderId} (the identity of this job's signatures): the workers that sign must share one identity`,
        );
      }
      row = await this.records.insert({
        jobId: job.id,
        repository: dockerReference(repo),
        manifestDigest: result.manifestDigest,
        predicateType: SLSA_PROVENANCE_PREDICATE_TYPE,
        statementDigest: `sha256:${createHash('sha256').update(statement).digest('hex')}`,
        bundle,
        entryUuid: await this.fullEntryUuid(bundle, signal),
        identity: signedAs.identity,
        issuer: signedAs.issuer,
        caller: job.caller,
      });
    }
    const bundle = bundleFromJSON(row.bundle);
    const referrer = bundleReferrerManifest({
      bundleJson: Buffer.from(JSON.stringify(bundleToJSON(bundle))),
      subject: { mediaType: result.manifestMediaType ?? OCI_MANIFEST_MEDIA_TYPE, digest: result.manifestDigest, size: result.manifestSize },
      created: row.rekor_integrated_time,
      predicateType: SLSA_PROVENANCE_PREDICATE_TYPE,
    });
    // The fallback index is read, appended and written back: one writer per manifest (as the signatures).
    await this.locks.withLock(`attach:${dockerReference(repo)}@${manifestDigest}`, async () => {
      await this.registry.pushBlob(repo, sha256Digest(OCI_EMPTY_BLOB), OCI_EMPTY_BLOB, { signal });
      await this.registry.pushBlob(repo, referrer.bundleDigest, referrer.bundleBlob, { signal });
      await this.registry.attachReferrer(
        repo,
        { manifestBytes: referrer.manifest, mediaType: OCI_MANIFEST_MEDIA_TYPE, artifactType: BUNDLE_MEDIA_TYPE, subjectDigest: manifestDigest },
        { signal },
      );
    });
    // Verdicts that asked for provenance and found none are stale now, in every process.
    await this.invalidations.publish(dockerReference(repo), manifestDigest);
    return {
      provenance: {
        predicateType: SLSA_PROVENANCE_PREDICATE_TYPE,
        logIndex: Number(row.rekor_log_index),
        entryUuid: row.rekor_entry_uuid,
        integratedTime: row.rekor_integrated_time.toISOString(),
        builderId: row.identity,
        issuer: row.issuer,
        referrerDigest: referrer.manifestDigest,
      },
    };
  }

  /** The attestation must verify against the trust root before it is recorded or attached. */
  private async verifyOwnBundle(bundle: Bundle): Promise<{ identity: string; issuer: string }> {
    const der = bundleLeafCertificate(bundle);
    if (!der) throw StepError.permanent('SIGNATURE_INVALID', 'the new attestation carries no certificate');
    const signedAs = certificateIdentity(der);
    try {
      await this.verifier.verify(bundle, signedAs);
    } catch (error) {
      throw StepError.permanent('SIGNATURE_INVALID', `the new attestation does not verify against the trusted root, so it was not attached: ${(error as Error).message}`);
    }
    return signedAs;
  }

  private async fullEntryUuid(bundle: Bundle, signal: AbortSignal): Promise<string | null> {
    const entry = bundle.verificationMaterial.tlogEntries[0];
    if (!entry) return null;
    try {
      return (await this.rekor.getByIndex(Number(entry.logIndex), signal))?.uuid ?? null;
    } catch {
      return null;
    }
  }
}
