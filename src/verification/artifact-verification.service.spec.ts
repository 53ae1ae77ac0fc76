import 'reflect-metadata';
import { createHash } from 'node:crypto';
import type { RegistryClient } from '../registry/registry-client';
import { cosignSignStatement } from '../signature-formats/sigstore-bundle-referrer';
import { SLSA_PROVENANCE_PREDICATE_TYPE, resolvedSourceDependency, slsaProvenanceStatement } from '../signature-formats/slsa-provenance';
import { SigstoreTestSigner, registryWithBundleReferrers } from './__fixtures__/sigstore-test-signer';
import { ArtifactVerificationService, readPolicy } from './artifact-verification.service';
import type { TrustRoots } from './trust-roots';

const BUILDER = 'https://kubernetes.io/namespaces/wasm-signer/serviceaccounts/signer';
const ISSUER = 'https://oidc.local.example';
const MANIFEST = `sha256:${createHash('sha256').update('manifest').digest('hex')}`;
const SOURCE = `sha256:${createHash('sha256').update('source').digest('hex')}`;
const archive = { kind: 'archive' as const, digest: SOURCE, fileName: null };

/**
 * verifyDigest's answer with and without policy.provenance: the signatures and the provenance judged
 * together, on real bundles attached as referrers. Only the registry reads and the trust root are given
 * to the service; it needs nothing else to verify.
 */
describe('ArtifactVerificationService.verifyDigest: signatures and provenance', () => {
  let signer: SigstoreTestSigner;
  let signature: Record<string, unknown>;
  let provenance: Record<string, unknown>;
  const repo = { registry: 'registry.example', repository: 'team/hello' };

  beforeAll(async () => {
    signer = await SigstoreTestSigner.start();
    signature = await signer.signStatement(cosignSignStatement({ manifestDigest: MANIFEST }), BUILDER, ISSUER);
    provenance = await signer.signStatement(
      slsaProvenanceStatement({
        subjects: [{ name: 'registry.example/team/hello', digest: MANIFEST }],
        externalParameters: { source: archive, builder: { name: 'cargo', options: {} }, repository: 'registry.example/team/hello', tag: null },
        internalParameters: { toolchain: [], sandbox: {} },
        resolvedDependencies: [resolvedSourceDependency(archive)],
        builderId: BUILDER,
        invocationId: 'job-7',
        startedOn: '2026-03-04T05:06:07Z',
        finishedOn: '2026-03-04T05:07:08Z',
        byproducts: [],
      }),
      BUILDER,
      ISSUER,
    );
  });

  afterAll(async () => {
    await signer?.close();
  });

  const service = (registry: RegistryClient) => {
    const trustRoots = { names: ['default'], get: () => ({ trustMaterial: async () => signer.trustMaterial }) } as unknown as TrustRoots;
    return new ArtifactVerificationService(registry, trustRoots, null as never, null as never, null as never, null as never);
  };
  const policy = (extra: Record<string, unknown> = {}) => readPolicy({ certificateIdentity: BUILDER, certificateOidcIssuer: ISSUER, ...extra });
  const signed = () => ({ bundle: signature });
  const attested = () => ({ bundle: provenance, predicateType: SLSA_PROVENANCE_PREDICATE_TYPE });

  it('without policy.provenance: the signatures decide, the attestation is neither a signature nor reported', async () => {
    const answer = await service(registryWithBundleReferrers(MANIFEST, [signed(), attested()])).verifyDigest(repo, MANIFEST, policy());
    expect(answer).toMatchObject({ verified: true, provenance: null, error: null });
    expect(answer.signatures).toHaveLength(1);
    expect(answer.signatures[0]).toMatchObject({ format: 'sigstore-bundle', verified: true, identity: BUILDER });
  });

  it('with policy.provenance: verified when a signature and the provenance both verify', async () => {
    const answer = await service(registryWithBundleReferrers(MANIFEST, [signed(), attested()])).verifyDigest(
      repo,
      MANIFEST,
      policy({ provenance: { sourceDigest: SOURCE, builder: 'cargo' } }),
    );
    expect(answer).toMatchObject({
      verified: true,
      error: null,
      provenance: { verified: true, builderId: BUILDER, builder: 'cargo', source: archive, invocationId: 'job-7', logIndex: expect.any(Number), error: null },
    });
  });

  it('a verified signature without provenance: not verified, the error names the provenance condition', async () => {
    const answer = await service(registryWithBundleReferrers(MANIFEST, [signed()])).verifyDigest(repo, MANIFEST, policy({ provenance: {} }));
    expect(answer.signatures[0]!.verified).toBe(true);
    expect(answer).toMatchObject({
      verified: false,
      provenance: { verified: false, location: null, error: { code: 'PROVENANCE_MISSING' } },
      error: { code: 'PROVENANCE_MISSING' },
    });
  });

  it('provenance that fails the policy: not verified, with its code', async () => {
    const answer = await service(registryWithBundleReferrers(MANIFEST, [signed(), attested()])).verifyDigest(
      repo,
      MANIFEST,
      policy({ provenance: { builder: 'componentize-js' } }),
    );
    expect(answer).toMatchObject({ verified: false, provenance: { verified: false, builder: 'cargo' }, error: { code: 'PROVENANCE_BUILDER_MISMATCH' } });
  });

  it('provenance without a signature: the missing signature is the error, the provenance verdict is still given', async () => {
    const answer = await service(registryWithBundleReferrers(MANIFEST, [attested()])).verifyDigest(repo, MANIFEST, policy({ provenance: {} }));
    expect(answer).toMatchObject({ verified: false, signatures: [], provenance: { verified: true }, error: { code: 'NO_SIGNATURES' } });
  });
});
