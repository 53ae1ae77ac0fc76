import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  KeylessSigner,
  RegistryClient,
  TokenFileSource,
  WasmFormatError,
  loadTrustRoot,
  parseRepository,
  publishArtifact,
  signArtifact,
  uploadWasm,
  verificationPolicy,
  verifyArtifact,
} from '../src/index';
import { REPO_ROOT, testEnvironment } from './support/test-environment';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));

/**
 * The library surface (src/index.ts) does, for an embedding program, what the service's publish job
 * does: against the real registry and the local Sigstore stack, an artifact published, signed in both
 * formats and verified — and nothing committed for a file that is not WebAssembly.
 */
describe('the library surface: publish, sign and verify an artifact without the service', () => {
  const { stackEnv } = testEnvironment();
  const registryHost = stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryClient({ insecureHosts: [registryHost], userAgent: 'wasm-signer-e2e', requestTimeoutMs: 30_000 });
  const signer = new KeylessSigner({
    fulcioUrl: stackEnv.SIGSTORE_FULCIO_URL!,
    rekorUrl: stackEnv.SIGSTORE_REKOR_URL!,
    tsaUrl: stackEnv.SIGSTORE_TSA_URL,
    identity: new TokenFileSource(stackEnv.IDENTITY_TOKEN_FILE!),
    trustRoot: { file: stackEnv.SIGSTORE_TRUSTED_ROOT_FILE! },
  });
  const newRepository = () => parseRepository(`${registryHost}/e2e/library-${randomUUID().slice(0, 12)}`);

  it('publishes, signs in both formats, and verifies the artifact against the signer identity only', async () => {
    const repo = newRepository();
    const wasm = await uploadWasm(registry, repo, component);
    expect(wasm.inspection.kind).toBe('component');
    const artifact = await publishArtifact(registry, repo, wasm, { tag: 'v1.0.0' });
    expect((await registry.getManifest(repo, 'v1.0.0'))?.digest).toBe(artifact.manifestDigest);

    const trustRoot = await loadTrustRoot({ file: stackEnv.SIGSTORE_TRUSTED_ROOT_FILE! });
    const policy = verificationPolicy({ certificateIdentity: stackEnv.LOCAL_CERTIFICATE_IDENTITY!, certificateOidcIssuer: stackEnv.LOCAL_OIDC_ISSUER_URL! });
    const unsigned = await verifyArtifact(registry, repo, artifact.manifestDigest, { policy, trustRoot });
    expect([unsigned.verified, unsigned.signatures]).toEqual([false, []]);

    const signatures = await signArtifact(registry, artifact, signer);
    expect(signatures.map((s) => [s.format, s.identity])).toEqual([
      ['cosign-classic', stackEnv.LOCAL_CERTIFICATE_IDENTITY],
      ['sigstore-bundle', stackEnv.LOCAL_CERTIFICATE_IDENTITY],
    ]);

    const verified = await verifyArtifact(registry, repo, artifact.manifestDigest, { policy, trustRoot });
    expect(verified.verified).toBe(true);
    expect(verified.signatures.map((s) => [s.format, s.verified, s.logIndex]).sort()).toEqual(signatures.map((s) => [s.format, true, s.logIndex]).sort());

    const someoneElse = verificationPolicy({ certificateIdentity: 'https://example.com/someone-else', certificateOidcIssuer: stackEnv.LOCAL_OIDC_ISSUER_URL! });
    const refused = await verifyArtifact(registry, repo, artifact.manifestDigest, { policy: someoneElse, trustRoot });
    expect(refused.verified).toBe(false);
    expect(refused.signatures.map((s) => s.verified)).toEqual([false, false]);
  });

  it('refuses a file that is not WebAssembly and leaves no blob behind', async () => {
    const repo = newRepository();
    const notWasm = Buffer.from(`#!/bin/sh\necho ${randomUUID()}\n`);
    await expect(uploadWasm(registry, repo, notWasm)).rejects.toBeInstanceOf(WasmFormatError);
    const digest = `sha256:${createHash('sha256').update(notWasm).digest('hex')}`;
    expect((await registry.blobExists(repo, digest)).exists).toBe(false);
  });

  it('refuses to publish a .wasm that was never uploaded to the repository', async () => {
    const source = newRepository();
    const wasm = await uploadWasm(registry, source, component);
    await expect(publishArtifact(registry, newRepository(), wasm)).rejects.toThrow(/is not in .*upload it first/);
  });
});
