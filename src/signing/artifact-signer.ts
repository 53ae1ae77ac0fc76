import { type CallerIdentity, requestedByAnnotations } from '../access/caller';
import { type Bundle, bundleFromJSON } from '@sigstore/bundle';
import type { SignatureFormatName } from '../config/config.schema';
import type { SignatureRow } from '../database/database.types';
import type { NamedLocks } from '../database/named-lock';
import { StepError } from '../pipeline/step-error';
import type { VerdictInvalidations } from '../pipeline/verdict-invalidations';
import { type OciRepository, dockerReference } from '../registry/oci-reference';
import type { RegistryClient } from '../registry/registry-client';
import type { OwnSignatureVerifier } from '../sigstore/own-signature-verifier';
import type { RekorClient } from '../sigstore/rekor-client';
import { certificateIdentity } from '../x509/certificate-identity';
import { cosignPayload } from '../signature-formats/cosign-classic-signature';
import { attachBundleReferrer, attachClassicSignature } from './signature-attachment';
import type { SignatureRecords } from './signature-records.repository';
import { cosignSignStatement } from '../signature-formats/sigstore-bundle-referrer';
import type { SigningSession, SigstoreSigner } from './sigstore-signer';
import { bundleLeafCertificate } from '../signature-formats/bundle-leaf-certificate';

/** What is being signed: a manifest already in the registry. */
export interface SigningTarget {
  jobId: string;
  repository: OciRepository;
  /** The reference as the caller gave it. */
  reference: string;
  manifestDigest: string;
  manifestMediaType: string;
  manifestSize: number;
  wasmDigest: string | null;
  artifactId: string | null;
  caller: string | null;
  /** On whose behalf: carried in the signed payload (REQUESTED_BY_ANNOTATION) and recorded. Null for jobs made before access control. */
  requestedBy: CallerIdentity | null;
}

/** What the signed payloads say besides the digest: the requesting caller, as cosign carries `-a` annotations. */
function signedAnnotations(target: SigningTarget): Record<string, string> | undefined {
  return target.requestedBy ? requestedByAnnotations(target.requestedBy) : undefined;
}

/**
 * Signs a manifest in every configured format and attaches the signatures to the registry.
 *
 * Idempotent per job and format: a signature is recorded before it is attached, so when the step runs
 * again after a crash the recorded signature is attached (again, harmlessly) instead of signing anew.
 * Each bundle is verified before it is written: cosign v3 prefers bundles and never falls back to
 * `.sig`, so an invalid bundle in the registry would hide a valid classic signature.
 */
export class ArtifactSigner {
  constructor(
    private readonly formats: readonly SignatureFormatName[],
    private readonly signer: SigstoreSigner,
    private readonly records: SignatureRecords,
    private readonly registry: RegistryClient,
    private readonly verifier: OwnSignatureVerifier,
    private readonly rekor: RekorClient | undefined,
    private readonly locks: NamedLocks,
    /** Told of each attached signature, so no process answers from a verdict that predates it. */
    private readonly invalidations?: Pick<VerdictInvalidations, 'publish'>,
  ) {}

  async sign(target: SigningTarget, signal?: AbortSignal): Promise<SignatureRow[]> {
    const existing = await this.records.findForJob(target.jobId);
    // One session per step: the formats share a Fulcio certificate unless SIGNING_CERTIFICATE_SCOPE=signature.
    const session = this.signer.session(target.jobId);
    const rows: SignatureRow[] = [];
    for (const format of this.formats) {
      let row = existing.find((r) => r.format === format);
      if (!row) {
        const { bundle, signedBytes } = format === 'cosign-classic' ? await this.signClassic(session, target) : await this.signBundle(session, target);
        await this.verifyOwnBundle(bundle, signedBytes);
        row = await this.records.insert({
          jobId: target.jobId,
          artifactId: target.artifactId,
          repository: dockerReference(target.repository),
          reference: target.reference,
          manifestDigest: target.manifestDigest,
          wasmDigest: target.wasmDigest,
          format,
          bundle,
          rekorEntryUuid: await this.fullEntryUuid(bundle, signal),
          caller: target.caller,
          requestedBy: target.requestedBy,
        });
      }
      const bundle = bundleFromJSON(row.bundle);
      // Read-append-write of the .sig image and the fallback index: one writer per signed manifest.
      await this.locks.withLock(`attach:${dockerReference(target.repository)}@${target.manifestDigest}`, () =>
        format === 'cosign-classic'
          ? attachClassicSignature(this.registry, target, this.payloadFor(target), bundle, signal)
          : attachBundleReferrer(this.registry, target, bundle, signal),
      );
      await this.invalidations?.publish(dockerReference(target.repository), target.manifestDigest);
      rows.push(row);
    }
    return rows;
  }

  private payloadFor(target: SigningTarget): Buffer {
    return cosignPayload({ dockerReference: dockerReference(target.repository), manifestDigest: target.manifestDigest, annotations: signedAnnotations(target) });
  }

  private async signClassic(session: SigningSession, target: SigningTarget): Promise<{ bundle: Bundle; signedBytes: Buffer }> {
    const payload = this.payloadFor(target);
    return { bundle: await session.signMessage(payload), signedBytes: payload };
  }

  private async signBundle(session: SigningSession, target: SigningTarget): Promise<{ bundle: Bundle; signedBytes: undefined }> {
    return {
      bundle: await session.signStatement(cosignSignStatement({ manifestDigest: target.manifestDigest, annotations: signedAnnotations(target) })),
      signedBytes: undefined,
    };
  }

  /** The signature must verify against the trust root before anything is written. */
  private async verifyOwnBundle(bundle: Bundle, signedBytes: Buffer | undefined): Promise<void> {
    const der = bundleLeafCertificate(bundle);
    if (!der) throw StepError.permanent('SIGNATURE_INVALID', 'the new signature carries no certificate');
    const { identity, issuer } = certificateIdentity(der);
    try {
      await this.verifier.verify(bundle, { identity, issuer }, signedBytes);
    } catch (error) {
      throw StepError.permanent('SIGNATURE_INVALID', `the new signature does not verify against the trusted root, so it was not attached: ${(error as Error).message}`);
    }
  }

  /** Rekor names entries by tree ID + leaf hash; ask it, falling back to the leaf hash alone. */
  private async fullEntryUuid(bundle: Bundle, signal?: AbortSignal): Promise<string | undefined> {
    const entry = bundle.verificationMaterial.tlogEntries[0];
    if (!this.rekor || !entry) return undefined;
    try {
      return (await this.rekor.getByIndex(Number(entry.logIndex), signal))?.uuid;
    } catch {
      return undefined;
    }
  }
}
