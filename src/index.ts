/**
 * The library surface of wasm-signer: what a program embedding it (or a benchmark) may use. Everything
 * else under src/ is internal and may move or change. The service itself is reached over HTTP.
 *
 * The life of an artifact, in four calls that do what the service's publish job does:
 *
 *   const registry = new RegistryClient({ userAgent: 'my-tool', requestTimeoutMs: 30_000 });
 *   const repo = parseRepository('registry.example/team/app');
 *   const wasm = await uploadWasm(registry, repo, bytesOrStream);        // checked while it streams
 *   const artifact = await publishArtifact(registry, repo, wasm, { tag: 'v1.0.0' });
 *   const signer = new KeylessSigner({ fulcioUrl, rekorUrl, tsaUrl, identity: new TokenFileSource(path), trustRoot: { file } });
 *   await signArtifact(registry, artifact, signer);                      // cosign .sig + bundle referrer
 *   const result = await verifyArtifact(registry, repo, artifact.manifestDigest, {
 *     policy: verificationPolicy({ certificateIdentity, certificateOidcIssuer }),
 *     trustRoot: await loadTrustRoot({ file }),
 *   });
 *
 * Keep this list short: export a façade function rather than the pieces it is made of.
 */

// OCI registries: the distribution client and reference parsing.
export { RegistryClient, type RegistryClientOptions } from './registry/registry-client';
export { type OciReference, type OciRepository, InvalidReferenceError, dockerReference, parseOciReference, parseRepository } from './registry/oci-reference';

// Publishing: a .wasm streamed into the registry (inspected as it passes), then the oci-wasm manifest.
export { WasmFormatError, type WasmInspection } from './wasm/wasm-inspector';
export {
  DEFAULT_MAX_WASM_BYTES,
  type PublishArtifactOptions,
  type PublishedArtifact,
  type UploadWasmOptions,
  type UploadedWasm,
  publishArtifact,
  uploadWasm,
} from './embedding/publish-artifact';

// Signing: keyless (Fulcio, Rekor, TSA), attached as a cosign `.sig` image and a Sigstore bundle referrer.
export { GcpMetadataSource, GitHubActionsSource, type IdentityTokenSource, StaticTokenSource, TokenFileSource } from './signing/identity/identity-providers';
export {
  type ArtifactSignature,
  KeylessSigner,
  type KeylessSignerOptions,
  type ManifestToSign,
  type SignArtifactOptions,
  type SignatureFormatName,
  signArtifact,
} from './embedding/sign-artifact';

// Verification: signatures discovered live in the registry, judged against a policy and a trust root.
export { type ArtifactPolicy, ArtifactVerifier, type SignatureVerdict } from './verification/artifact-verification';
export { type DiscoveredSignature, discoverSignatures } from './verification/signature-discovery';
export {
  type ArtifactVerificationResult,
  type TrustRoot,
  type VerificationPolicyInput,
  type VerifyArtifactOptions,
  loadTrustRoot,
  verificationPolicy,
  verifyArtifact,
} from './embedding/verify-artifact';

// Builds: the bubblewrap sandbox a build runs in (no network, read-only toolchain, limits).
export { type SandboxLimits, type SandboxOutcome, type SandboxRun, runInSandbox } from './builds/build-sandbox';
