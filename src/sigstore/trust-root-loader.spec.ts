import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import type { TUFOptions } from '@sigstore/tuf';
import { LastGoodTrustedRoot } from './last-good-trusted-root';
import { LAST_GOOD_PUBLIC_GOOD_ROOT, type TrustRootEvent, TrustRootLoader } from './trust-root-loader';
import { trustedRootDigest } from './trusted-root';

const PUBLIC_GOOD = JSON.parse(readFileSync(join(__dirname, '__fixtures__/public-good-trusted-root.json'), 'utf8')) as Record<string, unknown>;
const SEEDS = JSON.parse(readFileSync(require.resolve('@sigstore/tuf/seeds.json'), 'utf8')) as Record<string, { targets: Record<string, string> }>;
const EMBEDDED = JSON.parse(Buffer.from(SEEDS['https://tuf-repo-cdn.sigstore.dev']!.targets['trusted_root.json']!, 'base64').toString('utf8')) as unknown;

/** The public-good root with one Rekor URL changed, so that two versions can be told apart. */
function rootWithRekor(baseUrl: string): Record<string, unknown> {
  const copy = structuredClone(PUBLIC_GOOD) as { tlogs: { baseUrl: string }[] };
  copy.tlogs[0]!.baseUrl = baseUrl;
  return copy;
}

/** A TUF fetch answering with whatever `answer` says now (a root, an error, or never). */
function fakeTuf(answer: () => unknown) {
  const calls: TUFOptions[] = [];
  const fetch = async (options: TUFOptions) => {
    calls.push(options);
    const json = answer();
    if (json === 'hang') return new Promise<never>(() => undefined);
    if (json instanceof Error) throw json;
    return TrustedRoot.fromJSON(json);
  };
  return { calls, fetch };
}

const dataDir = () => mkdtempSync(join(tmpdir(), 'trust-root-loader-spec-'));
const lastGoodFile = (dir: string) => join(dir, LAST_GOOD_PUBLIC_GOOD_ROOT);
const offline = () => new Error('getaddrinfo ENOTFOUND tuf-repo-cdn.sigstore.dev');
const rekorOf = (root: TrustedRoot) => root.tlogs[0]!.baseUrl;

/** Waits until the loader's background write of the last good copy has landed. */
async function untilFile(file: string, check: (text: string) => boolean = () => true): Promise<string> {
  for (let i = 0; i < 200; i++) {
    try {
      const text = readFileSync(file, 'utf8');
      if (check(text)) return text;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${file} was not written`);
}

describe('TrustRootLoader (TUF) with a last good copy', () => {
  it('writes the fetched root to DATA_DIR/trust with its fetch time, and is fresh', async () => {
    const dir = dataDir();
    const tuf = fakeTuf(() => rootWithRekor('https://rekor.fresh'));
    const loader = new TrustRootLoader({ tufCacheDir: dir }, tuf.fetch);
    const loaded = await loader.load();
    expect(loaded).toMatchObject({ origin: 'tuf', fetchedAt: expect.any(Date) });
    expect(loader.freshness).toMatchObject({ state: 'fresh', origin: 'tuf', staleSince: null, lastError: null });
    const written = JSON.parse(await untilFile(lastGoodFile(dir))) as { tlogs: { baseUrl: string }[] };
    expect(written.tlogs[0]!.baseUrl).toBe('https://rekor.fresh');
    expect(statSync(lastGoodFile(dir)).mtime.getTime()).toBe(loaded.fetchedAt!.getTime());
    expect(tuf.calls[0]).toMatchObject({ cachePath: join(dir, 'tuf-cache'), timeout: 5_000 });
    expect(tuf.calls[0]!.mirrorURL).toBeUndefined();
  });

  it('uses the last good copy when TUF cannot be reached, stale with its age and the error, and says so once', async () => {
    const dir = dataDir();
    mkdirSync(join(dir, 'trust'));
    writeFileSync(lastGoodFile(dir), JSON.stringify(rootWithRekor('https://rekor.on-disk')));
    const fetchedAt = new Date(Date.now() - 3_600_000);
    utimesSync(lastGoodFile(dir), fetchedAt, fetchedAt);
    const events: TrustRootEvent[] = [];
    const loader = new TrustRootLoader({ tufCacheDir: dir }, fakeTuf(offline).fetch, { onEvent: (e) => events.push(e) });

    const loaded = await loader.load();
    expect(rekorOf(loaded.root)).toBe('https://rekor.on-disk');
    expect(loaded).toMatchObject({ origin: 'disk', fetchedAt });
    expect(loader.freshness).toMatchObject({
      state: 'stale',
      origin: 'disk',
      fetchedAt,
      staleSince: expect.any(Date),
      lastError: { message: expect.stringContaining('ENOTFOUND') },
    });
    expect(loader.lastFailure).toBeUndefined(); // something is loaded: verification works
    await loader.refresh(); // still offline: no second notice
    expect(events).toEqual([{ kind: 'stale', origin: 'disk', fetchedAt, error: 'getaddrinfo ENOTFOUND tuf-repo-cdn.sigstore.dev' }]);
  });

  it('falls back to the root embedded in @sigstore/tuf when the copy on disk is corrupt', async () => {
    const dir = dataDir();
    mkdirSync(join(dir, 'trust'));
    writeFileSync(lastGoodFile(dir), '{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1", "tlogs": [');
    const loader = new TrustRootLoader({ tufCacheDir: dir }, fakeTuf(offline).fetch);
    const loaded = await loader.load();
    expect(loaded).toMatchObject({ origin: 'embedded', fetchedAt: null });
    expect(TrustedRoot.toJSON(loaded.root)).toEqual(TrustedRoot.toJSON(TrustedRoot.fromJSON(EMBEDDED)));
    expect(loader.freshness).toMatchObject({ state: 'stale', origin: 'embedded' });
  });

  it('ignores a temp file a crash left mid-write, and removes it at a later write once old', async () => {
    const dir = dataDir();
    mkdirSync(join(dir, 'trust'));
    writeFileSync(lastGoodFile(dir), JSON.stringify(rootWithRekor('https://rekor.complete')));
    const leftover = `${lastGoodFile(dir)}.tmp-999-deadbeef`;
    writeFileSync(leftover, JSON.stringify(rootWithRekor('https://rekor.partial')).slice(0, 100));

    const loader = new TrustRootLoader({ tufCacheDir: dir }, fakeTuf(offline).fetch);
    expect(rekorOf((await loader.load()).root)).toBe('https://rekor.complete');

    // A write a minute later (the leftover's age is read from its ctime, which utimes cannot set back).
    const realNow = Date.now;
    Date.now = () => realNow() + 120_000;
    try {
      await new LastGoodTrustedRoot(lastGoodFile(dir)).write(rootWithRekor('https://rekor.next'), new Date());
    } finally {
      Date.now = realNow;
    }
    expect(readdirSync(join(dir, 'trust'))).toEqual(['public-good-trusted-root.json']);
    expect(rekorOf((await new LastGoodTrustedRoot(lastGoodFile(dir)).read()).root)).toBe('https://rekor.next');
  });

  it('swaps in a new root when TUF answers again: a new object, fresh, written to disk, said once', async () => {
    const dir = dataDir();
    let online = false;
    const events: TrustRootEvent[] = [];
    const loader = new TrustRootLoader({ tufCacheDir: dir }, fakeTuf(() => (online ? rootWithRekor('https://rekor.back') : offline())).fetch, {
      onEvent: (e) => events.push(e),
    });
    const stale = await loader.load();
    expect(stale.origin).toBe('embedded');

    online = true;
    await loader.refresh();
    const fresh = await loader.load();
    expect(fresh).not.toBe(stale);
    expect(fresh.material).not.toBe(stale.material);
    expect(fresh.root).not.toBe(stale.root);
    expect(rekorOf(stale.root)).not.toBe('https://rekor.back'); // the old one was not changed
    expect(rekorOf(fresh.root)).toBe('https://rekor.back');
    expect(trustedRootDigest(fresh.root)).not.toBe(trustedRootDigest(stale.root));
    expect(loader.freshness).toMatchObject({ state: 'fresh', origin: 'tuf', staleSince: null, lastError: null });
    expect(events.map((e) => e.kind)).toEqual(['stale', 'fresh']);
    await untilFile(lastGoodFile(dir), (text) => text.includes('https://rekor.back'));
    expect(readdirSync(join(dir, 'trust'))).toEqual(['public-good-trusted-root.json']);
  });

  it('keeps a fresh root when a periodic refresh fails, now stale with origin tuf', async () => {
    const dir = dataDir();
    let online = true;
    const loader = new TrustRootLoader({ tufCacheDir: dir }, fakeTuf(() => (online ? rootWithRekor('https://rekor.one') : offline())).fetch);
    const first = await loader.load();
    online = false;
    await loader.refresh();
    expect(await loader.load()).toBe(first);
    expect(loader.freshness).toMatchObject({ state: 'stale', origin: 'tuf', fetchedAt: first.fetchedAt });
  });

  it('gives up on a TUF mirror that does not answer within the timeout', async () => {
    const dir = dataDir();
    const loader = new TrustRootLoader({ tufCacheDir: dir, timeoutMs: 200 }, fakeTuf(() => 'hang').fetch);
    const started = Date.now();
    const loaded = await loader.load();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(loaded.origin).toBe('embedded');
    expect(loader.freshness!.lastError!.message).toContain('did not answer within 200 ms');
  });

  it('hands another mirror the public-good TUF root to start from', async () => {
    const dir = dataDir();
    const tuf = fakeTuf(offline);
    await new TrustRootLoader({ tufCacheDir: dir, mirrorUrl: 'http://127.0.0.1:9' }, tuf.fetch).load();
    expect(tuf.calls[0]).toMatchObject({ mirrorURL: 'http://127.0.0.1:9', rootPath: join(dir, 'tuf-cache', 'public-good-tuf-root.json') });
    const root = JSON.parse(readFileSync(tuf.calls[0]!.rootPath!, 'utf8')) as { signed: { _type: string } };
    expect(root.signed._type).toBe('root');
  });

  it('schedules the next try in the background while stale, and stops at close', async () => {
    const dir = dataDir();
    const loader = new TrustRootLoader({ tufCacheDir: dir, refresh: { retryMaxMs: 300_000, intervalMs: 86_400_000 } }, fakeTuf(offline).fetch);
    const before = Date.now();
    await loader.load();
    const next = loader.freshness!.nextAttemptAt!.getTime() - before;
    expect(next).toBeGreaterThanOrEqual(27_000);
    expect(next).toBeLessThanOrEqual(34_000);
    loader.close();
    expect(loader.freshness!.nextAttemptAt).toBeNull();
  });
});
