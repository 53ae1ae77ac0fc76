/**
 * The work of one publish job — upload, push, sign, verify — done directly in this process with the
 * library surface (src/index.ts), without HTTP, queue or database: the baseline the API is compared with.
 *
 * The library's façades do what the service's steps do:
 * - uploadWasm: the upload (the .wasm streamed into the registry — POST, PATCH, PUT — while it is inspected);
 * - publishArtifact: the push step (the layer checked, the wasm config pushed, the manifest put by digest and by tag);
 * - signArtifact: the sign step, for each format a keyless signature (Fulcio, Rekor, TSA), checked
 *   against the trust root, its Rekor entry looked up, then attached — the classic `.sig` image
 *   (read, append, write) and the bundle referrer (blobs, manifest, fallback index);
 * - verifyArtifact: the verify step, the artifact verified the way a consumer does it — its signatures
 *   discovered live in the registry and judged with the signer's own identity as the policy; each
 *   signature just made must be among those that verify (optional, on by default, as every job does it).
 * The records the service keeps in PostgreSQL, and its named locks, are left out.
 */
import {
  type ArtifactSignature,
  KeylessSigner,
  type OciRepository,
  type RegistryClient,
  type TrustRoot,
  TokenFileSource,
  loadTrustRoot,
  publishArtifact,
  signArtifact,
  uploadWasm,
  verificationPolicy,
  verifyArtifact,
} from '../../src/index';

/** Milliseconds spent in each part of one publish. */
export interface DirectPhases {
  upload: number;
  push: number;
  sign: number;
  verify: number;
}

export class DirectPublisher {
  private readonly signer: KeylessSigner;
  private readonly trustRootFile: string;
  private trustRoot: Promise<TrustRoot> | undefined;

  constructor(
    private readonly registry: RegistryClient,
    stackEnv: Record<string, string>,
    private readonly withVerifyStep: boolean,
    /** As the service's SIGNING_CERTIFICATE_SCOPE: one Fulcio certificate per publish (`job`) or per signature. */
    certificateScope: 'job' | 'signature' = 'job',
  ) {
    const required = (name: string) => {
      const value = stackEnv[name];
      if (!value) throw new Error(`the stack environment has no ${name}`);
      return value;
    };
    this.trustRootFile = required('SIGSTORE_TRUSTED_ROOT_FILE');
    this.signer = new KeylessSigner({
      fulcioUrl: required('SIGSTORE_FULCIO_URL'),
      rekorUrl: required('SIGSTORE_REKOR_URL'),
      tsaUrl: stackEnv.SIGSTORE_TSA_URL,
      identity: new TokenFileSource(required('IDENTITY_TOKEN_FILE')),
      trustRoot: { file: this.trustRootFile },
      certificateScope,
    });
  }

  async publish(repo: OciRepository, tag: string, wasm: Buffer): Promise<DirectPhases> {
    const t0 = performance.now();
    const uploaded = await uploadWasm(this.registry, repo, wasm);
    const t1 = performance.now();
    const artifact = await publishArtifact(this.registry, repo, uploaded, { tag });
    const t2 = performance.now();
    const signatures = await signArtifact(this.registry, artifact, this.signer);
    const t3 = performance.now();
    if (this.withVerifyStep) await this.verify(repo, artifact.manifestDigest, signatures);
    const t4 = performance.now();
    return { upload: t1 - t0, push: t2 - t1, sign: t3 - t2, verify: t4 - t3 };
  }

  /** As the service's verify step: each new signature must be found in the registry, and verify. */
  private async verify(repo: OciRepository, manifestDigest: string, signatures: readonly ArtifactSignature[]): Promise<void> {
    const { identity, issuer } = signatures[0]!;
    this.trustRoot ??= loadTrustRoot({ file: this.trustRootFile });
    const result = await verifyArtifact(this.registry, repo, manifestDigest, {
      policy: verificationPolicy({ certificateIdentity: identity, certificateOidcIssuer: issuer }),
      trustRoot: await this.trustRoot,
    });
    for (const signature of signatures) {
      const verdict = result.signatures.find((v) => v.format === signature.format && v.logIndex === signature.logIndex);
      if (!verdict) throw new Error(`the ${signature.format} signature (Rekor index ${signature.logIndex}) is not in the registry`);
      if (!verdict.verified) throw new Error(`the ${signature.format} signature does not verify: ${verdict.error?.message ?? 'unknown reason'}`);
    }
  }
}
