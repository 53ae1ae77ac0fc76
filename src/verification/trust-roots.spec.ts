import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { ProblemError } from '../common/problem';
import { TrustRootLoader, TrustRootUnavailableError } from '../sigstore/trust-root-loader';
import { TrustRoots } from './trust-roots';

const dir = mkdtempSync(join(tmpdir(), 'trust-roots-spec-'));
const logKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
const LOG_ID = createHash('sha256').update(logKey).digest('base64');

function rootJson(baseUrl: string, validFor: Record<string, string> = { start: '2024-01-01T00:00:00Z' }) {
  return {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl, hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: logKey.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor }, logId: { keyId: LOG_ID } }],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
}

function rootFile(name: string, content: unknown): string {
  const file = join(mkdtempSync(join(dir, `${name}-`)), 'trusted_root.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** A TUF fetch that counts its calls and answers with the given root (or fails). */
function fakeTuf(answer: () => unknown) {
  const calls: string[] = [];
  const fetch = async (options: { cachePath?: string }) => {
    calls.push(options.cachePath ?? '');
    const json = answer();
    if (json instanceof Error) throw json;
    return TrustedRoot.fromJSON(json);
  };
  return { calls, loader: (source: ConstructorParameters<typeof TrustRootLoader>[0]) => new TrustRootLoader(source, fetch) };
}

describe('TrustRootLoader', () => {
  it('reads a file once and keeps it', async () => {
    const file = rootFile('once', rootJson('https://rekor.one'));
    const loader = new TrustRootLoader({ file });
    const first = await loader.trustMaterial();
    writeFileSync(file, JSON.stringify(rootJson('https://rekor.two')));
    expect(await loader.trustMaterial()).toBe(first);
    expect(first.tlogs[0]!.baseURL).toBe('https://rekor.one');
  });

  it('reports a missing file without its directory, and tries again next time', async () => {
    const file = join(dir, 'later', 'trusted_root.json');
    const loader = new TrustRootLoader({ file });
    const failure = await loader.load().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TrustRootUnavailableError);
    expect((failure as Error).message).toBe('trusted root trusted_root.json could not be loaded: cannot read trusted_root.json: ENOENT');
    expect(loader.lastFailure?.message).toBe((failure as Error).message);

    mkdirSync(join(dir, 'later'));
    writeFileSync(file, JSON.stringify(rootJson('https://rekor.later')));
    expect((await loader.trustMaterial()).tlogs[0]!.baseURL).toBe('https://rekor.later');
    expect(loader.lastFailure).toBeUndefined();
  });

  it('refuses a file root whose key validity has no start', async () => {
    const loader = new TrustRootLoader({ file: rootFile('no-start', rootJson('https://rekor.x', { end: '2030-01-01T00:00:00Z' })) });
    await expect(loader.load()).rejects.toThrow(/tlogs\[0\]\.publicKey\.validFor\.start is missing/);
  });

  it('fetches the TUF root into the data directory, once for concurrent callers', async () => {
    const tuf = fakeTuf(() => rootJson('https://rekor.sigstore.dev'));
    const loader = tuf.loader({ tufCacheDir: '/var/lib/wasm-signer' });
    const [a, b] = await Promise.all([loader.trustMaterial(), loader.trustMaterial()]);
    expect(a).toBe(b);
    await loader.trustMaterial();
    expect(tuf.calls).toEqual(['/var/lib/wasm-signer/tuf-cache']);
  });

  it('checks the TUF root like a file: one it refuses is not used, the embedded copy stands in, stale', async () => {
    const tuf = fakeTuf(() => rootJson('https://rekor.sigstore.dev', {}));
    const loader = tuf.loader({ tufCacheDir: mkdtempSync(join(dir, 'refused-')) });
    expect((await loader.load()).origin).toBe('embedded');
    expect(loader.freshness).toMatchObject({ state: 'stale', lastError: { message: expect.stringMatching(/validFor\.start is missing/) } });
  });

  it('stands in for a TUF root that cannot be fetched, and takes the fetched one on a refresh', async () => {
    let online = false;
    const tuf = fakeTuf(() => (online ? rootJson('https://rekor.sigstore.dev') : new Error('getaddrinfo ENOTFOUND tuf-repo-cdn.sigstore.dev')));
    const loader = tuf.loader({ tufCacheDir: mkdtempSync(join(dir, 'later-')) });
    const standIn = await loader.load();
    expect(standIn.origin).toBe('embedded');
    expect(loader.freshness!.lastError!.message).toBe('Sigstore public-good trusted root (TUF) could not be fetched: getaddrinfo ENOTFOUND tuf-repo-cdn.sigstore.dev');
    online = true;
    await loader.refresh();
    expect(await loader.load()).toMatchObject({ origin: 'tuf', root: { tlogs: [{ logId: { keyId: Buffer.from(LOG_ID, 'base64') } }] } });
    expect(tuf.calls).toHaveLength(2);
  });
});

describe('TrustRoots', () => {
  it('names public-good and default (public-good without a trusted root file) and loads neither', async () => {
    const tuf = fakeTuf(() => rootJson('https://rekor.sigstore.dev'));
    const roots = new TrustRoots({ dataDir: dir, loader: tuf.loader });
    expect(roots.names).toEqual(['public-good', 'default']);
    expect(roots.get('default')).toBe(roots.get('public-good'));
    expect(roots.defaultRoot).toBe(roots.get('public-good'));
    expect(await roots.describe()).toEqual([
      { name: 'public-good', source: 'tuf', aliasOf: null, state: 'not-loaded', loadedAt: null, error: null, tuf: null, contents: null },
      { name: 'default', source: 'tuf', aliasOf: 'public-good', state: 'not-loaded', loadedAt: null, error: null, tuf: null, contents: null },
    ]);
    expect(tuf.calls).toHaveLength(0);
  });

  it('describes the TUF root once something has loaded it', async () => {
    const tuf = fakeTuf(() => rootJson('https://rekor.sigstore.dev'));
    const roots = new TrustRoots({ dataDir: dir, loader: tuf.loader });
    await roots.get('public-good').trustMaterial();
    const [publicGood] = await roots.describe();
    expect(publicGood).toMatchObject({ name: 'public-good', state: 'loaded', contents: { tlogs: [{ baseUrl: 'https://rekor.sigstore.dev', logId: LOG_ID }] } });
    expect(publicGood!.tuf).toMatchObject({ servedFrom: 'tuf', ageSeconds: 0, staleSince: null });
  });

  it('describes a TUF root that stands in while TUF cannot be reached as stale, with why', async () => {
    const tuf = fakeTuf(() => new Error('connect ECONNREFUSED 127.0.0.1:9'));
    const roots = new TrustRoots({ dataDir: mkdtempSync(join(dir, 'offline-')), loader: tuf.loader });
    await roots.get('public-good').load();
    const [publicGood, defaultRoot] = await roots.describe();
    expect(publicGood).toMatchObject({
      state: 'stale',
      error: { code: 'TRUST_ROOT_UNAVAILABLE', message: expect.stringContaining('ECONNREFUSED') },
      tuf: { servedFrom: 'embedded', fetchedAt: null, ageSeconds: null, staleSince: expect.any(String) },
    });
    expect(publicGood!.contents!.tlogs[0]!.baseUrl).toBe('https://rekor.sigstore.dev');
    expect(defaultRoot).toMatchObject({ aliasOf: 'public-good', state: 'stale' });
  });

  it('loads at start only the TUF roots with a last good copy on disk', async () => {
    const tuf = fakeTuf(() => rootJson('https://rekor.sigstore.dev'));
    const fresh = mkdtempSync(join(dir, 'never-used-'));
    const unused = new TrustRoots({ dataDir: fresh, loader: tuf.loader });
    await unused.loadUsedRoots();
    expect(tuf.calls).toHaveLength(0);

    mkdirSync(join(fresh, 'trust'));
    writeFileSync(join(fresh, 'trust', 'public-good-trusted-root.json'), JSON.stringify(rootJson('https://rekor.sigstore.dev')));
    const used = new TrustRoots({ dataDir: fresh, loader: tuf.loader });
    await used.loadUsedRoots();
    expect(tuf.calls).toHaveLength(1);
    expect(used.get('public-good').loaded).toBeDefined();
  });

  it('makes SIGSTORE_TRUSTED_ROOT_FILE the default root and adds the TRUST_ROOTS, loading files to describe them', async () => {
    const tuf = fakeTuf(() => rootJson('https://rekor.sigstore.dev'));
    const roots = new TrustRoots({
      dataDir: dir,
      defaultFile: rootFile('default', rootJson('https://rekor.local')),
      files: [
        { name: 'staging', file: rootFile('staging', rootJson('https://rekor.sigstage.dev')) },
        { name: 'broken', file: rootFile('broken', '{"mediaType":') },
      ],
      loader: tuf.loader,
    });
    expect(roots.names).toEqual(['public-good', 'default', 'staging', 'broken']);
    expect(roots.defaultRoot).not.toBe(roots.get('public-good'));
    const described = Object.fromEntries((await roots.describe()).map((root) => [root.name, root]));
    expect(described.default).toMatchObject({ source: 'trusted_root.json', aliasOf: null, state: 'loaded', contents: { tlogs: [{ baseUrl: 'https://rekor.local' }] } });
    expect(described.staging).toMatchObject({ state: 'loaded', loadedAt: expect.any(String), contents: { tlogs: [{ baseUrl: 'https://rekor.sigstage.dev', logId: LOG_ID }] } });
    expect(described.broken).toMatchObject({
      state: 'failed',
      contents: null,
      error: { code: 'TRUST_ROOT_UNAVAILABLE', message: expect.stringContaining('trusted_root.json is not JSON') },
    });
    expect(described['public-good']).toMatchObject({ state: 'not-loaded' });
    expect(tuf.calls).toHaveLength(0);
  });

  it('answers an unknown name with a 422 naming the roots there are', () => {
    const roots = new TrustRoots({ dataDir: dir });
    let problem: unknown;
    try {
      roots.get('prod');
    } catch (error) {
      problem = error;
    }
    expect(problem).toBeInstanceOf(ProblemError);
    expect(problem).toMatchObject({ status: 422, code: 'TRUST_ROOT_NOT_FOUND', extensions: { trustRoots: ['public-good', 'default'] } });
  });

  it('refuses a name given twice', () => {
    expect(() => new TrustRoots({ dataDir: dir, files: [{ name: 'public-good', file: '/x' }] })).toThrow('trust root public-good is defined twice');
  });
});
