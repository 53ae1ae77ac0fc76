import type { RegistryClient } from '../registry/registry-client';
import { ImmutableContentCache, MAX_SIGNATURES_PER_FORMAT, discoverSignatures } from './signature-discovery';

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
