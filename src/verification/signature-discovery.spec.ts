import { ImmutableContentCache } from './signature-discovery';

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
