import { BundleVerificationPool } from '../sigstore/bundle-verification-pool';
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import type { RegistryClient } from '../registry/registry-client';
import { cosignSignStatement } from '../signature-formats/sigstore-bundle-referrer';
import { SLSA_PROVENANCE_PREDICATE_TYPE, resolvedSourceDependency, slsaProvenanceStatement } from '../signature-formats/slsa-provenance';
import { SigstoreTestSigner, registryWithBundleReferrers } from './__fixtures__/sigstore-test-signer';
import { ArtifactVerificationService, readPolicy } from './artifact-verification.service';
import type { TrustRoots } from './trust-roots';
import { MetricsService } from '../metrics/metrics.service';
import type { VerdictInvalidations } from '../pipeline/verdict-invalidations';
import type { AppConfig } from '../config/config.schema';

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

  const cacheConfig = (cache: Partial<AppConfig['verification']['cache']> = {}) => ({
    verification: {
      trustRoots: [],
      tuf: { mirrorUrl: 'https://tuf-repo-cdn.sigstore.dev', timeoutMs: 10_000, retryMaxMs: 300_000, refreshIntervalMs: 86_400_000 },
      cache: { ttlSeconds: 300, failedTtlSeconds: 600, maxEntries: 100, tagTtlSeconds: 10, ...cache },
      admissionPolicyFile: undefined,
      threads: { count: 0, taskTimeoutMs: 30_000, maxQueue: 100 },
      admissionPolicyCheckIntervalSeconds: 10,
    },
  });
  /** The listener the service subscribed with: what the Redis subscriber calls when a digest's signatures change. */
  let invalidate: (subject: string) => void = () => undefined;
  const service = (registry: RegistryClient, config = cacheConfig()) => {
    const trustRoots = { names: ['default'], get: () => ({ load: async () => ({ material: signer.trustMaterial }) }) } as unknown as TrustRoots;
    const invalidations = { subscribe: (listener: (subject: string) => void) => (invalidate = listener) } as unknown as VerdictInvalidations;
    const verifications = new ArtifactVerificationService(
      registry,
      trustRoots,
      null as never,
      null as never,
      null as never,
      null as never,
      config,
      invalidations,
      new MetricsService(),
      new BundleVerificationPool(),
    );
    verifications.onModuleInit();
    return verifications;
  };
  /** A registry whose content the test changes: a signature attached after a first verification. */
  const changingRegistry = (initial: RegistryClient) => {
    const current = { registry: initial };
    const registry = new Proxy({} as RegistryClient, { get: (_target, name) => (current.registry as unknown as Record<string | symbol, unknown>)[name] });
    return { registry, set: (next: RegistryClient) => (current.registry = next) };
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

  describe('the verdict cache', () => {
    it('keeps the verdict it computed apart from the answer, and hands out the cached one unchangeable', async () => {
      const verifications = service(registryWithBundleReferrers(MANIFEST, [signed()]));
      const live = await verifications.verifyDigest(repo, MANIFEST, policy());
      const expected = structuredClone(live);
      // Whoever holds the first answer cannot change what is cached.
      live.signatures[0]!.verified = false;
      live.signatures.push(live.signatures[0]!);
      const cached = await verifications.verifyDigest(repo, MANIFEST, policy());
      expect(cached).toEqual({ ...expected, fromCache: true });
      // Answers from the cache share its data, frozen: a change throws instead of reaching later answers.
      expect(() => (cached.signatures[0]!.verified = false)).toThrow(/read only/);
      expect(() => cached.signatures.push(cached.signatures[0]!)).toThrow(/not extensible/);
      expect(await verifications.verifyDigest(repo, MANIFEST, policy())).toEqual({ ...expected, fromCache: true });
    });

    it('answers the same digest and policy from the cache (same checkedAt), another policy live', async () => {
      const verifications = service(registryWithBundleReferrers(MANIFEST, [signed()]));
      const live = await verifications.verifyDigest(repo, MANIFEST, policy());
      expect(live).toMatchObject({ verified: true, fromCache: false, checkedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/) });
      const again = await verifications.verifyDigest(repo, MANIFEST, readPolicy({ certificateOidcIssuer: ISSUER, certificateIdentity: BUILDER }));
      expect(again).toEqual({ ...live, fromCache: true });

      // Another policy: its own conditions, evaluated live (a mismatched identity, then a required annotation).
      const other = await verifications.verifyDigest(repo, MANIFEST, readPolicy({ certificateIdentity: `${BUILDER}-other`, certificateOidcIssuer: ISSUER }));
      expect(other).toMatchObject({ verified: false, fromCache: false, error: { code: 'NO_VERIFIED_SIGNATURE' } });
      const annotated = await verifications.verifyDigest(repo, MANIFEST, policy({ annotations: { stage: 'prod' } }));
      expect(annotated).toMatchObject({ verified: false, fromCache: false });
      const withProvenance = await verifications.verifyDigest(repo, MANIFEST, policy({ provenance: {} }));
      expect(withProvenance).toMatchObject({ verified: false, fromCache: false, error: { code: 'PROVENANCE_MISSING' } });
      // Another trust root name, or another repository: live.
      expect(await verifications.verifyDigest({ ...repo, repository: 'team/other' }, MANIFEST, policy())).toMatchObject({ fromCache: false });
    });

    it('maxAge 0 checks live; a verdict older than maxAge is not used', async () => {
      const verifications = service(registryWithBundleReferrers(MANIFEST, [signed()]));
      const first = await verifications.verifyDigest(repo, MANIFEST, policy());
      expect(await verifications.verifyDigest(repo, MANIFEST, policy(), 'default', undefined, 0)).toMatchObject({ verified: true, fromCache: false });
      await new Promise((resolve) => setTimeout(resolve, 5));
      const latest = await verifications.verifyDigest(repo, MANIFEST, policy(), 'default', undefined, 3600);
      expect(latest.fromCache).toBe(true);
      expect(Date.parse(latest.checkedAt)).toBeGreaterThan(Date.parse(first.checkedAt));
    });

    it('an invalidation of the digest drops its verdicts for every policy: a signature attached since is seen', async () => {
      const { registry, set } = changingRegistry(registryWithBundleReferrers(MANIFEST, []));
      const verifications = service(registry);
      const policies = [
        policy(),
        readPolicy({ certificateIdentity: BUILDER, certificateOidcIssuerRegExp: 'https://oidc\\.local\\.example' }),
        readPolicy({ certificateIdentityRegExp: '.*', certificateOidcIssuer: ISSUER }),
      ];
      for (const p of policies) expect(await verifications.verifyDigest(repo, MANIFEST, p)).toMatchObject({ verified: false, fromCache: false, error: { code: 'NO_SIGNATURES' } });
      set(registryWithBundleReferrers(MANIFEST, [signed()]));
      // Kept (FAILED_TTL 600 s here) until told.
      expect(await verifications.verifyDigest(repo, MANIFEST, policies[0]!)).toMatchObject({ verified: false, fromCache: true });
      invalidate(`registry.example/team/other@${MANIFEST}`);
      expect(await verifications.verifyDigest(repo, MANIFEST, policies[0]!)).toMatchObject({ verified: false, fromCache: true });
      invalidate(`registry.example/team/hello@${MANIFEST}`);
      for (const p of policies) expect(await verifications.verifyDigest(repo, MANIFEST, p)).toMatchObject({ verified: true, fromCache: false });
    });

    it('keeps nothing with VERIFICATION_CACHE_MAX_ENTRIES=0', async () => {
      const verifications = service(registryWithBundleReferrers(MANIFEST, [signed()]), cacheConfig({ maxEntries: 0 }));
      await verifications.verifyDigest(repo, MANIFEST, policy());
      expect(await verifications.verifyDigest(repo, MANIFEST, policy())).toMatchObject({ verified: true, fromCache: false });
    });
  });
});
