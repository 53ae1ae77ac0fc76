import { CodedError } from '../common/coded-error';
import type { OciDescriptor } from '../registry/oci-media-types';
import type { RegistryClient } from '../registry/registry-client';
import { ImmutableContentCache, MAX_SIGNATURES_PER_FORMAT, discoverAttestations, discoverSignatures } from './signature-discovery';

describe('ImmutableContentCache', () => {
  const repo = { registry: 'registry.example', repository: 'team/app' };
  const digest = `sha256:${'a'.repeat(64)}`;

  it('reads a digest once per repository', async () => {
    const cache = new ImmutableContentCache();
    const load = jest.fn(async () => Buffer.from('bundle'));
    expect(await cache.read(repo, digest, load)).toEqual(Buffer.from('bundle'));
    expect(await cache.read(repo, digest, load)).toEqual(Buffer.from('bundle'));
    expect(load).toHaveBeenCalledTimes(1);
    await cache.read({ ...repo, repository: 'other/app' }, digest, load);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('does not keep what is missing or large', async () => {
    const cache = new ImmutableContentCache();
    const missing = jest.fn(async () => undefined);
    await cache.read(repo, digest, missing);
    await cache.read(repo, digest, missing);
    expect(missing).toHaveBeenCalledTimes(2);
    const large = jest.fn(async () => Buffer.alloc(65 * 1024));
    await cache.read(repo, digest, large);
    await cache.read(repo, digest, large);
    expect(large).toHaveBeenCalledTimes(2);
  });

  it('forgets the least recently used beyond its capacity', async () => {
    const cache = new ImmutableContentCache(1);
    const load = jest.fn(async () => Buffer.from('x'));
    const other = `sha256:${'b'.repeat(64)}`;
    await cache.read(repo, digest, load);
    await cache.read(repo, other, load);
    await cache.read(repo, digest, load);
    expect(load).toHaveBeenCalledTimes(3);
  });
});

describe('discoverSignatures', () => {
  const repo = { registry: 'registry.example', repository: 'team/app' };
  const digest = `sha256:${'b'.repeat(64)}`;
  const layer = (i: number) => ({ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: `sha256:${i.toString(16).padStart(64, '0')}`, size: 2, annotations: {} });

  it('reads and verifies at most the newest signatures of each format, however many are attached', async () => {
    const getBlob = jest.fn(async () => Buffer.from('{}'));
    const getManifest = jest.fn(async (_repo: unknown, reference: string) =>
      reference.endsWith('.sig')
        ? { bytes: Buffer.from(JSON.stringify({ layers: Array.from({ length: 1000 }, (_, i) => layer(i)) })) }
        : { bytes: Buffer.from(JSON.stringify({ layers: [] })) },
    );
    const referrers = Array.from({ length: 1000 }, (_, i) => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${(i + 5000).toString(16).padStart(64, '0')}`,
      size: 2,
    }));
    const registry = { getManifest, getBlob, listReferrers: jest.fn(async () => ({ index: { manifests: referrers } })) } as unknown as RegistryClient;

    const found = await discoverSignatures(registry, repo, digest);
    const classic = found.filter((s) => s.format === 'cosign-classic');
    const bundles = found.filter((s) => s.format === 'sigstore-bundle');
    expect(classic).toHaveLength(MAX_SIGNATURES_PER_FORMAT);
    expect(bundles).toHaveLength(MAX_SIGNATURES_PER_FORMAT);
    expect(classic.at(-1)!.location).toMatch(/ layer 1000$/);
    expect(classic[0]!.location).toMatch(new RegExp(` layer ${1000 - MAX_SIGNATURES_PER_FORMAT + 1}$`));
    expect(bundles.at(-1)!.location).toBe(`referrer ${referrers.at(-1)!.digest}`);
    expect(getBlob).toHaveBeenCalledTimes(MAX_SIGNATURES_PER_FORMAT);
    expect(getManifest.mock.calls.length).toBeLessThanOrEqual(1 + MAX_SIGNATURES_PER_FORMAT);
  });
});

describe('signatures and attestations among the bundle referrers', () => {
  const repo = { registry: 'registry.example', repository: 'team/app' };
  const digest = `sha256:${'c'.repeat(64)}`;
  const SIGN = 'https://sigstore.dev/cosign/sign/v1';
  const SLSA = 'https://slsa.dev/provenance/v1';
  const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
  const hex = (n: number) => n.toString(16).padStart(64, '0');

  /**
   * A registry holding bundle referrers: each with the predicate type on its manifest (or none), listed
   * with or without the annotation on its index descriptor (the referrers API of some registries drops
   * annotations). Each bundle blob is `{"n":<i>}`, so a test sees which referrers were read.
   */
  function registryOf(referrers: { manifestType?: string; descriptorType?: string | 'same' }[], extra: Partial<Record<'getManifest', jest.Mock>> = {}) {
    const manifests = new Map<string, Buffer>();
    const descriptors: OciDescriptor[] = referrers.map((referrer, i) => {
      const manifestDigest = `sha256:${hex(1000 + i)}`;
      const annotations = referrer.manifestType ? { 'dev.sigstore.bundle.predicateType': referrer.manifestType } : undefined;
      manifests.set(manifestDigest, Buffer.from(JSON.stringify({ layers: [{ mediaType: BUNDLE, digest: `sha256:${hex(i)}`, size: 8 }], ...(annotations ? { annotations } : {}) })));
      const descriptorType = referrer.descriptorType === 'same' ? referrer.manifestType : referrer.descriptorType;
      return {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: manifestDigest,
        size: 100,
        artifactType: BUNDLE,
        ...(descriptorType ? { annotations: { 'dev.sigstore.bundle.predicateType': descriptorType } } : {}),
      };
    });
    const getManifest = extra.getManifest ?? jest.fn(async (_repo: unknown, reference: string) => (manifests.has(reference) ? { bytes: manifests.get(reference)! } : undefined));
    const getBlob = jest.fn(async (_repo: unknown, blobDigest: string) => Buffer.from(JSON.stringify({ n: Number.parseInt(blobDigest.slice(7), 16) })));
    const listReferrers = jest.fn(async () => ({ index: { manifests: descriptors } }));
    return { registry: { getManifest, getBlob, listReferrers } as unknown as RegistryClient, getManifest, getBlob };
  }
  const numbers = (found: { bundle?: unknown }[]) => found.map((f) => (f.bundle as { n: number }).n);

  it('counts as signatures the bundles of the cosign sign type or of no type, and only those', async () => {
    const { registry } = registryOf([
      { manifestType: SIGN, descriptorType: 'same' },
      { manifestType: SLSA, descriptorType: 'same' },
      {},
      { manifestType: SLSA },
      { manifestType: SIGN },
      { manifestType: 'https://spdx.dev/Document', descriptorType: 'same' },
    ]);
    const found = await discoverSignatures(registry, repo, digest);
    expect(found.every((f) => f.format === 'sigstore-bundle')).toBe(true);
    expect(numbers(found)).toEqual([0, 2, 4]);
  });

  it('finds the attestations of the type asked for, by descriptor annotation or else by manifest annotation', async () => {
    const { registry } = registryOf([
      { manifestType: SIGN, descriptorType: 'same' },
      { manifestType: SLSA, descriptorType: 'same' },
      {},
      { manifestType: SLSA },
      { manifestType: SIGN },
      { manifestType: 'https://spdx.dev/Document', descriptorType: 'same' },
    ]);
    const found = await discoverAttestations(registry, repo, digest, SLSA);
    expect(found.map((f) => f.location)).toEqual([`referrer sha256:${hex(1001)}`, `referrer sha256:${hex(1003)}`]);
    expect(numbers(found)).toEqual([1, 3]);
    expect(numbers(await discoverAttestations(registry, repo, digest, 'https://spdx.dev/Document'))).toEqual([5]);
    expect(await discoverAttestations(registry, repo, digest, 'https://example.com/none')).toEqual([]);
  });

  it('believes the index descriptor over the manifest: it decides where a referrer is looked at', async () => {
    // Annotations disagree: the descriptor says SLSA, the manifest cosign sign. The signed statement decides what it is worth.
    const { registry } = registryOf([{ manifestType: SIGN, descriptorType: SLSA }]);
    expect(await discoverSignatures(registry, repo, digest)).toEqual([]);
    expect(numbers(await discoverAttestations(registry, repo, digest, SLSA))).toEqual([0]);
  });

  it('does not read the referrers whose descriptor names another type', async () => {
    const { registry, getManifest, getBlob } = registryOf([
      { manifestType: SLSA, descriptorType: 'same' },
      { manifestType: SLSA, descriptorType: 'same' },
      { manifestType: SIGN, descriptorType: 'same' },
    ]);
    await discoverSignatures(registry, repo, digest);
    expect(getManifest.mock.calls.filter(([, reference]) => String(reference).startsWith('sha256:'))).toHaveLength(1);
    expect(getBlob).toHaveBeenCalledTimes(1);
  });

  it('keeps the newest signatures within the bound, however many attestations are interleaved', async () => {
    const { registry } = registryOf(Array.from({ length: 200 }, (_, i) => ({ manifestType: i % 2 === 0 ? SIGN : SLSA, descriptorType: 'same' })));
    const signatures = await discoverSignatures(registry, repo, digest);
    expect(signatures).toHaveLength(MAX_SIGNATURES_PER_FORMAT);
    expect(numbers(signatures)).toEqual(Array.from({ length: MAX_SIGNATURES_PER_FORMAT }, (_, i) => 200 - 2 * MAX_SIGNATURES_PER_FORMAT + 2 * i));
    const attestations = await discoverAttestations(registry, repo, digest, SLSA);
    expect(attestations).toHaveLength(MAX_SIGNATURES_PER_FORMAT);
    expect(numbers(attestations).at(-1)).toBe(199);
  });

  it('reports an unreadable referrer of unknown type among the signatures only; one annotated as an attestation among those', async () => {
    const getManifest = jest.fn(async (_repo: unknown, reference: string) => {
      if (reference.endsWith('.sig')) return undefined;
      throw new CodedError('MANIFEST_INVALID', `the manifest ${reference} is not JSON`);
    });
    const { registry } = registryOf([{}, { manifestType: SLSA, descriptorType: 'same' }], { getManifest });
    expect(await discoverSignatures(registry, repo, digest)).toEqual([
      { format: 'sigstore-bundle', location: `referrer sha256:${hex(1000)}`, unreadable: { code: 'MANIFEST_INVALID', message: `the manifest sha256:${hex(1000)} is not JSON` } },
    ]);
    expect(await discoverAttestations(registry, repo, digest, SLSA)).toEqual([
      { format: 'sigstore-bundle', location: `referrer sha256:${hex(1001)}`, unreadable: { code: 'MANIFEST_INVALID', message: `the manifest sha256:${hex(1001)} is not JSON` } },
    ]);
  });

  it('throws a registry failure that may pass (transient) rather than calling the attestation unreadable', async () => {
    const getManifest = jest.fn(async () => {
      throw new CodedError('REGISTRY_UNAVAILABLE', 'registry.example answered 503', { transient: true });
    });
    const { registry } = registryOf([{}], { getManifest });
    await expect(discoverAttestations(registry, repo, digest, SLSA)).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
  });
});
