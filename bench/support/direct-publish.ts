/**
 * The work of one publish job — upload, push, sign, verify — done directly in this process with the
 * service's own classes, without HTTP, queue or database: the baseline the API is compared with.
 *
 * It mirrors, step by step:
 * - the upload (ArtifactUploadService): the .wasm streamed into the registry (POST, PATCH, PUT) while
 *   WasmInspector checks it;
 * - the push step (PushStep): the layer checked, the wasm config pushed, the manifest put by digest and by tag;
 * - the sign step (ArtifactSigner): for each format a keyless signature (Fulcio, Rekor, TSA), checked
 *   against the trust root, its Rekor entry looked up, then attached — the classic `.sig` image
 *   (read, append, write) and the bundle referrer (blobs, manifest, fallback index);
 * - the verify step (SignSteps.verify): the artifact verified the way a consumer does it — its
 *   signatures discovered live in the registry (discoverSignatures) and judged by ArtifactVerifier
 *   with the signer's own identity as the policy; each signature just made must be among those that
 *   verify (optional, on by default, as every job does it).
 * The records the service keeps in PostgreSQL, and its named locks, are left out.
 */
import { type Bundle, bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { buildWasmConfig, buildWasmManifest, sanitizeLayerTitle } from '../../src/artifacts/oci-wasm-layout';
import { type WasmInspection, WasmInspector } from '../../src/artifacts/wasm-inspector';
import { OCI_MANIFEST_MEDIA_TYPE, sha256Digest } from '../../src/registry/oci-media-types';
import { type OciRepository, dockerReference } from '../../src/registry/oci-reference';
import type { RegistryClient } from '../../src/registry/registry-client';
import { certificateIdentity } from '../../src/x509/certificate-identity';
import { appendSignatureLayer, cosignLayerAnnotations, cosignPayload, cosignSignatureTag } from '../../src/signature-formats/cosign-classic-signature';
import { TokenFileSource } from '../../src/signing/identity/identity-providers';
import { BUNDLE_MEDIA_TYPE, OCI_EMPTY_BLOB, bundleReferrerManifest, cosignSignStatement } from '../../src/signature-formats/sigstore-bundle-referrer';
import { SigstoreSigner } from '../../src/signing/sigstore-signer';
import { RekorClient } from '../../src/sigstore/rekor-client';
import { type ArtifactPolicy, ArtifactVerifier } from '../../src/verification/artifact-verification';
import { BundleVerifier } from '../../src/sigstore/bundle-verifier';
import { discoverSignatures } from '../../src/verification/signature-discovery';
import { TrustRootLoader } from '../../src/sigstore/trust-root-loader';
import { DEFAULT_TRUST_ROOT } from '../../src/verification/trust-roots';

/** The service's default MAX_UPLOAD_BYTES. */
const MAX_UPLOAD_BYTES = 268_435_456;

type Format = 'cosign-classic' | 'sigstore-bundle';
const FORMATS: readonly Format[] = ['cosign-classic', 'sigstore-bundle'];

/** Milliseconds spent in each part of one publish. */
export interface DirectPhases {
  upload: number;
  push: number;
  sign: number;
  verify: number;
}

interface Signature {
  format: Format;
  identity: string;
  issuer: string;
  /** Rekor log index: how the verify step recognises it among the signatures in the registry. */
  logIndex: number;
}

interface PushedManifest {
  digest: string;
  size: number;
}

export class DirectPublisher {
  private readonly signer: SigstoreSigner;
  private readonly trustRoot: TrustRootLoader;
  private readonly verifier: BundleVerifier;
  private readonly artifactVerifier = new ArtifactVerifier();
  private readonly rekor: RekorClient;

  constructor(
    private readonly registry: RegistryClient,
    stackEnv: Record<string, string>,
    private readonly withVerifyStep: boolean,
  ) {
    const required = (name: string) => {
      const value = stackEnv[name];
      if (!value) throw new Error(`the stack environment has no ${name}`);
      return value;
    };
    this.signer = new SigstoreSigner(
      { fulcioUrl: required('SIGSTORE_FULCIO_URL'), rekorUrl: required('SIGSTORE_REKOR_URL'), tsaUrl: stackEnv.SIGSTORE_TSA_URL },
      new TokenFileSource(required('IDENTITY_TOKEN_FILE')),
    );
    this.trustRoot = new TrustRootLoader({ file: required('SIGSTORE_TRUSTED_ROOT_FILE') });
    this.verifier = new BundleVerifier(this.trustRoot);
    this.rekor = new RekorClient(required('SIGSTORE_REKOR_URL'));
  }

  async publish(repo: OciRepository, tag: string, wasm: Buffer): Promise<DirectPhases> {
    const t0 = performance.now();
    const { digest, size, inspection } = await this.upload(repo, wasm);
    const t1 = performance.now();
    const manifest = await this.push(repo, tag, { digest, size, inspection });
    const t2 = performance.now();
    const signatures: Signature[] = [];
    for (const format of FORMATS) signatures.push(await this.sign(repo, manifest, format));
    const t3 = performance.now();
    if (this.withVerifyStep) await this.verify(repo, manifest, signatures);
    const t4 = performance.now();
    return { upload: t1 - t0, push: t2 - t1, sign: t3 - t2, verify: t4 - t3 };
  }

  private async upload(repo: OciRepository, wasm: Buffer): Promise<{ digest: string; size: number; inspection: WasmInspection }> {
    const inspector = new WasmInspector({ maxBytes: MAX_UPLOAD_BYTES });
    const blob = await this.registry.pushBlobStream(repo, chunksOf(wasm), {
      maxBytes: MAX_UPLOAD_BYTES,
      onChunk: (chunk) => inspector.push(chunk),
      beforeCommit: () => void inspector.finish(),
    });
    return { ...blob, inspection: inspector.finish() };
  }

  private async push(
    repo: OciRepository,
    tag: string,
    wasm: { digest: string; size: number; inspection: WasmInspection },
  ): Promise<PushedManifest> {
    const created = new Date(new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'));
    const layer = await this.registry.blobExists(repo, wasm.digest);
    if (!layer.exists) throw new Error(`the uploaded .wasm ${wasm.digest} is not in ${dockerReference(repo)}`);
    const config = buildWasmConfig({ inspection: wasm.inspection, wasmDigest: wasm.digest, created });
    const manifest = buildWasmManifest({
      config,
      layer: { digest: wasm.digest, size: wasm.size, title: sanitizeLayerTitle(repo.repository.split('/').pop()!) },
      created,
      annotations: {},
    });
    await this.registry.pushBlob(repo, config.digest, config.bytes);
    await this.registry.putManifest(repo, manifest.digest, OCI_MANIFEST_MEDIA_TYPE, manifest.bytes);
    await this.registry.putManifest(repo, tag, OCI_MANIFEST_MEDIA_TYPE, manifest.bytes);
    return { digest: manifest.digest, size: manifest.size };
  }

  private async sign(repo: OciRepository, manifest: PushedManifest, format: Format): Promise<Signature> {
    const payload = cosignPayload({ dockerReference: dockerReference(repo), manifestDigest: manifest.digest });
    const signed =
      format === 'cosign-classic'
        ? await this.signer.signMessage(payload)
        : await this.signer.signStatement(cosignSignStatement({ manifestDigest: manifest.digest }));
    const { identity, issuer } = certificateIdentity(leafCertificate(signed));
    await this.verifier.verify(signed, { identity, issuer }, format === 'cosign-classic' ? payload : undefined);
    const entry = signed.verificationMaterial.tlogEntries[0];
    if (!entry) throw new Error('the new signature has no transparency log entry');
    await this.rekor.getByIndex(Number(entry.logIndex));
    // The service stores the bundle as JSON and attaches what it reads back.
    const bundle = bundleFromJSON(bundleToJSON(signed));
    if (format === 'cosign-classic') await this.attachClassic(repo, manifest, payload, bundle);
    else await this.attachBundle(repo, manifest, bundle);
    return { format, identity, issuer, logIndex: Number(entry.logIndex) };
  }

  private async attachClassic(repo: OciRepository, manifest: PushedManifest, payload: Buffer, bundle: Bundle): Promise<void> {
    const tag = cosignSignatureTag(manifest.digest);
    const existing = await this.registry.getManifest(repo, tag, [OCI_MANIFEST_MEDIA_TYPE]);
    const image = appendSignatureLayer(existing?.bytes, { payload, annotations: cosignLayerAnnotations(bundle) });
    if (existing && existing.digest === image.manifestDigest) return;
    await this.registry.pushBlob(repo, sha256Digest(payload), payload);
    await this.registry.pushBlob(repo, image.configDigest, image.config);
    await this.registry.putManifest(repo, tag, OCI_MANIFEST_MEDIA_TYPE, image.manifest);
  }

  private async attachBundle(repo: OciRepository, manifest: PushedManifest, bundle: Bundle): Promise<void> {
    const referrer = bundleReferrerManifest({
      bundleJson: Buffer.from(JSON.stringify(bundleToJSON(bundle))),
      subject: { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: manifest.digest, size: manifest.size },
      created: new Date(Number(bundle.verificationMaterial.tlogEntries[0]!.integratedTime) * 1000),
    });
    await this.registry.pushBlob(repo, sha256Digest(OCI_EMPTY_BLOB), OCI_EMPTY_BLOB);
    await this.registry.pushBlob(repo, referrer.bundleDigest, referrer.bundleBlob);
    await this.registry.attachReferrer(repo, {
      manifestBytes: referrer.manifest,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      artifactType: BUNDLE_MEDIA_TYPE,
      subjectDigest: manifest.digest,
    });
  }

  private async verify(repo: OciRepository, manifest: PushedManifest, signatures: readonly Signature[]): Promise<void> {
    const { identity, issuer } = signatures[0]!;
    const policy: ArtifactPolicy = { signer: { kind: 'certificate', identity: { kind: 'exact', value: identity }, issuer: { kind: 'exact', value: issuer } }, annotations: {} };
    const material = await this.trustRoot.trustMaterial();
    const found = await discoverSignatures(this.registry, repo, manifest.digest);
    const verdicts = found.map((signature) => this.artifactVerifier.verdict(signature, manifest.digest, policy, { name: DEFAULT_TRUST_ROOT, material }));
    for (const signature of signatures) {
      const verdict = verdicts.find((v) => v.format === signature.format && v.logIndex === signature.logIndex);
      if (!verdict) throw new Error(`the ${signature.format} signature (Rekor index ${signature.logIndex}) is not in the registry`);
      if (!verdict.verified) throw new Error(`the ${signature.format} signature does not verify: ${verdict.error?.message ?? 'unknown reason'}`);
    }
  }
}

function leafCertificate(bundle: Bundle): Buffer {
  const content = bundle.verificationMaterial.content;
  const der =
    content.$case === 'certificate' ? content.certificate.rawBytes : content.$case === 'x509CertificateChain' ? content.x509CertificateChain.certificates[0]?.rawBytes : undefined;
  if (!der) throw new Error('the new signature carries no certificate');
  return der;
}

/** The bytes as a stream source, as an HTTP request body reaches the upload. */
async function* chunksOf(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
