import { ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { OciRepository } from './oci-reference';
import { OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, sha256Digest } from './oci-media-types';
import { referrersTag } from './referrers-tag-fallback';
import { RegistryClient } from './registry-client';
import { RegistryError } from './registry-error';
import { freePort } from '../../test/support/service-process';

/**
 * RegistryClient against a real registry: Debian's `docker-registry` (distribution 2.8, no referrers
 * API), started on a free loopback port with filesystem storage in a temp dir.
 */

function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/sbin'])) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const registryBinary = findExecutable('docker-registry');
const skopeoBinary = findExecutable('skopeo');

const describeWithRegistry = registryBinary ? describe : describe.skip;
const suiteName = registryBinary
  ? 'RegistryClient against distribution 2.8 (docker-registry)'
  : 'RegistryClient against distribution 2.8 — SKIPPED: the docker-registry binary is not installed (apt-get install docker-registry)';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** `total` bytes of deterministic content in fresh 64 KiB buffers (so buffering them would show in memory). */
async function* content(total: number, seed: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0, index = 0; offset < total; offset += CHUNK, index++) {
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK, total - offset));
    chunk.fill((index * 31 + seed) & 0xff);
    if (chunk.length >= 8) {
      chunk.writeUInt32BE(index, 0);
      chunk.writeUInt32BE(seed, 4);
    }
    yield chunk;
  }
}

async function digestOf(total: number, seed: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of content(total, seed)) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

/** A full garbage collection on demand (V8's gc, exposed at run time when the process was not started with it). */
function collectGarbage(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const run = (file: string, args: string[]) =>
  new Promise<{ stdout: Buffer; stderr: string }>((resolve, reject) => {
    execFile(file, args, { encoding: 'buffer', timeout: 60_000, env: { ...process.env, HOME: tmpdir() } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${stderr.toString()}`, { cause: error }));
      else resolve({ stdout, stderr: stderr.toString() });
    });
  });

describeWithRegistry(suiteName, () => {
  let dir: string;
  let port: number;
  let host: string;
  let registry: ChildProcess | undefined;
  let output = '';
  let client: RegistryClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'registry-client-'));
    port = await freePort();
    host = `127.0.0.1:${port}`;
    const config = join(dir, 'config.yml');
    writeFileSync(
      config,
      [
        'version: 0.1',
        'log:',
        '  level: warn',
        '  accesslog:',
        '    disabled: true',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${join(dir, 'data')}`,
        '  delete:',
        '    enabled: true',
        'http:',
        `  addr: ${host}`,
        '',
      ].join('\n'),
    );
    registry = spawn(registryBinary!, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    registry.stdout!.on('data', keep);
    registry.stderr!.on('data', keep);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (registry.exitCode !== null) throw new Error(`docker-registry exited with ${registry.exitCode}: ${output}`);
      const ready = await fetch(`http://${host}/v2/`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`docker-registry did not start on ${host}: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    client = new RegistryClient({ userAgent: 'wasm-signer-test', requestTimeoutMs: 30_000, insecureHosts: [host] });
  });

  afterAll(async () => {
    if (registry && registry.exitCode === null) {
      const exited = new Promise((resolve) => registry!.once('exit', resolve));
      registry.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const repo = (name: string): OciRepository => ({ registry: host, repository: name });
  /**
   * Live upload sessions of a repository, as distribution keeps them on disk: a `startedat` file and the
   * `data` received so far. (A cancelled session leaves an empty-ish directory behind: distribution 2.8
   * rewrites `hashstates/sha256/0` while closing the cancelled writer. Neither data nor session survive.)
   */
  const openUploads = (name: string): string[] => {
    const uploads = join(dir, 'data', 'docker', 'registry', 'v2', 'repositories', name, '_uploads');
    if (!existsSync(uploads)) return [];
    return readdirSync(uploads).flatMap((session) => ['data', 'startedat'].filter((file) => existsSync(join(uploads, session, file))).map((file) => `${session}/${file}`));
  };

  it('pushes a blob, and skips it when the registry already has it', async () => {
    const bytes = Buffer.from('{"architecture":"wasm"}');
    const digest = sha256Digest(bytes);
    expect(await client.blobExists(repo('it/blobs'), digest)).toEqual({ exists: false });
    expect(await client.pushBlob(repo('it/blobs'), digest, bytes)).toEqual({ digest, size: bytes.length, uploaded: true });
    expect(await client.pushBlob(repo('it/blobs'), digest, bytes)).toEqual({ digest, size: bytes.length, uploaded: false });
    expect(await client.blobExists(repo('it/blobs'), digest)).toEqual({ exists: true, size: bytes.length });
  });

  it('streams a 20 MiB blob with bounded memory', async () => {
    const size = 20 * MiB;
    const gc = collectGarbage();
    // Warm up code paths and connection pools so the measurement sees the steady state.
    await client.pushBlobStream(repo('it/stream'), content(2 * MiB, 99));
    // Garbage is collected before each sample: the figures are what the upload holds on to, not what
    // merely awaits collection (each chunk is a fresh buffer, so holding them would show).
    gc();
    const before = process.memoryUsage();
    let peakRss = before.rss;
    let peakBuffers = before.arrayBuffers;
    let seen = 0;
    const sample = () => {
      gc();
      const now = process.memoryUsage();
      peakRss = Math.max(peakRss, now.rss);
      peakBuffers = Math.max(peakBuffers, now.arrayBuffers);
    };
    const result = await client.pushBlobStream(repo('it/stream'), content(size, 1), {
      onChunk: (chunk) => {
        seen += chunk.byteLength;
        if (seen % MiB === 0) sample();
      },
    });
    sample();
    const rssGrowth = peakRss - before.rss;
    const bufferGrowth = peakBuffers - before.arrayBuffers;
    process.stdout.write(
      `streamed ${size / MiB} MiB: peak rss growth ${(rssGrowth / MiB).toFixed(1)} MiB, ` +
        `peak ArrayBuffer growth ${(bufferGrowth / MiB).toFixed(2)} MiB (rss ${(before.rss / MiB).toFixed(0)} MiB before)\n`,
    );
    expect(result).toEqual({ digest: await digestOf(size, 1), size });
    expect(seen).toBe(size);
    expect(await client.blobExists(repo('it/stream'), result.digest)).toEqual({ exists: true, size });
    // rss also moves with the V8 heap and the allocator, so it gets a loose bound; the ArrayBuffer figure
    // is the exact measure of chunks held (a buffered upload shows the whole 20 MiB there): about one
    // 1 MiB batch being filled, its joined copy in flight and what the socket has not sent yet.
    expect(rssGrowth).toBeLessThan(size / 2);
    expect(bufferGrowth).toBeLessThan(6 * MiB);
    expect(openUploads('it/stream')).toEqual([]);
  });

  it("cancels the upload when onChunk throws, rethrowing the caller's error and leaving no blob", async () => {
    const size = 4 * MiB;
    const wouldBe = await digestOf(size, 2);
    const refusal = new Error('not a WebAssembly component');
    let seen = 0;
    const error = await client
      .pushBlobStream(repo('it/abort'), content(size, 2), {
        onChunk: (chunk) => {
          seen += chunk.byteLength;
          if (seen > MiB) throw refusal;
        },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBe(refusal);
    expect(await client.blobExists(repo('it/abort'), wouldBe)).toEqual({ exists: false });
    expect(openUploads('it/abort')).toEqual([]);
  });

  it('fails with UPLOAD_TOO_LARGE past maxBytes, leaving no blob', async () => {
    const size = 3 * MiB;
    const error = await client.pushBlobStream(repo('it/limit'), content(size, 3), { maxBytes: 2 * MiB }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ code: 'UPLOAD_TOO_LARGE', transient: false });
    expect((error as Error).message).toContain(`Upload to ${host}/it/limit exceeds the limit of ${2 * MiB} bytes`);
    expect(await client.blobExists(repo('it/limit'), await digestOf(size, 3))).toEqual({ exists: false });
    expect(openUploads('it/limit')).toEqual([]);
  });

  describe('manifests and referrers', () => {
    const EMPTY = Buffer.from('{}');
    const EMPTY_DIGEST = sha256Digest(EMPTY);
    const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
    const r = () => repo('it/wasm');
    let layer: Buffer;
    let subject: Buffer;
    let subjectDigest: string;

    const imageManifest = (extra: Record<string, unknown> = {}) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST_MEDIA_TYPE,
          config: { mediaType: 'application/vnd.wasm.config.v0+json', size: EMPTY.length, digest: EMPTY_DIGEST },
          layers: [{ mediaType: 'application/wasm', size: layer.length, digest: sha256Digest(layer) }],
          annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
          ...extra,
        }),
      );

    async function referrer(bundleJson: string, created: string): Promise<Buffer> {
      const bundle = Buffer.from(bundleJson);
      await client.pushBlob(r(), sha256Digest(bundle), bundle);
      return Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST_MEDIA_TYPE,
          artifactType: BUNDLE,
          config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: EMPTY_DIGEST },
          layers: [{ mediaType: BUNDLE, size: bundle.length, digest: sha256Digest(bundle) }],
          annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'org.opencontainers.image.created': created },
          subject: { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: subjectDigest, size: subject.length },
        }),
      );
    }

    beforeAll(async () => {
      layer = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);
      await client.pushBlob(r(), EMPTY_DIGEST, EMPTY);
      await client.pushBlob(r(), sha256Digest(layer), layer);
      subject = imageManifest();
      subjectDigest = sha256Digest(subject);
    });

    it('puts a manifest by tag and reads it back by tag and by digest', async () => {
      expect(await client.putManifest(r(), 'v1', OCI_MANIFEST_MEDIA_TYPE, subject)).toEqual({ digest: subjectDigest });
      const byTag = await client.getManifest(r(), 'v1', [OCI_MANIFEST_MEDIA_TYPE]);
      expect(byTag).toMatchObject({ mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: subjectDigest, size: subject.length });
      expect(byTag!.bytes.equals(subject)).toBe(true);
      expect(byTag!.etag).toBe(`"${subjectDigest}"`);
      const byDigest = await client.getManifest(r(), subjectDigest);
      expect(byDigest!.bytes.equals(subject)).toBe(true);
      expect(await client.headManifest(r(), 'v1')).toEqual({ mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: subjectDigest, size: subject.length });
      const other = imageManifest({ annotations: { 'org.opencontainers.image.created': '2026-02-02T00:00:00Z' } });
      expect(await client.putManifest(r(), sha256Digest(other), OCI_MANIFEST_MEDIA_TYPE, other)).toEqual({ digest: sha256Digest(other) });
      expect(await client.getManifest(r(), 'missing')).toBeUndefined();
      // distribution 2.8 hides an OCI manifest from a request that does not accept its media type.
      expect(await client.getManifest(r(), 'v1', [OCI_INDEX_MEDIA_TYPE])).toBeUndefined();
    });

    it('reports a manifest naming a blob the registry does not have as REGISTRY_BLOB_NOT_VISIBLE (transient: it may be committing), with the registry code', async () => {
      const dangling = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST_MEDIA_TYPE,
          config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: EMPTY_DIGEST },
          layers: [{ mediaType: 'application/wasm', size: 3, digest: `sha256:${'0'.repeat(64)}` }],
        }),
      );
      const error = await client.putManifest(r(), 'dangling', OCI_MANIFEST_MEDIA_TYPE, dangling).then(
        () => undefined,
        (e: unknown) => e as RegistryError,
      );
      expect(error).toMatchObject({ code: 'REGISTRY_BLOB_NOT_VISIBLE', transient: true, status: 400 });
      expect(error!.details.map((d) => d.code)).toContain('MANIFEST_BLOB_UNKNOWN');
    });

    it('detects content that does not match its digest (DIGEST_MISMATCH)', async () => {
      const victim = imageManifest({ annotations: { 'org.opencontainers.image.created': '2026-03-03T00:00:00Z' } });
      const digest = sha256Digest(victim);
      await client.putManifest(r(), 'victim', OCI_MANIFEST_MEDIA_TYPE, victim);
      // Corrupt the stored bytes behind the registry's back (same length, one digit changed).
      const hex = digest.slice('sha256:'.length);
      const stored = join(dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
      writeFileSync(stored, readFileSync(stored, 'utf8').replace('2026-03-03', '2026-03-04'));
      await expect(client.getManifest(r(), digest)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', transient: false });
      await expect(client.getManifest(r(), 'victim')).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
      // And a digest reference that does not match the bytes is refused before sending.
      await expect(client.putManifest(r(), digest, OCI_MANIFEST_MEDIA_TYPE, subject)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    });

    it('attaches referrers through the sha256-<hex> tag fallback, appending once each', async () => {
      const first = await referrer('{"bundle":1}', '2026-01-01T00:00:01Z');
      const second = await referrer('{"bundle":2}', '2026-01-01T00:00:02Z');
      const attach = (manifestBytes: Buffer, artifactType?: string) =>
        client.attachReferrer(r(), { manifestBytes, mediaType: OCI_MANIFEST_MEDIA_TYPE, subjectDigest, ...(artifactType ? { artifactType } : {}) });

      expect(await attach(first)).toEqual({ digest: sha256Digest(first), size: first.length, source: 'tag-fallback' });
      const tag = referrersTag(subjectDigest);
      const afterFirst = await client.getManifest(r(), tag, [OCI_INDEX_MEDIA_TYPE]);
      expect(afterFirst!.mediaType).toBe(OCI_INDEX_MEDIA_TYPE);
      expect(afterFirst!.bytes.toString()).toBe(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_INDEX_MEDIA_TYPE,
          manifests: [
            {
              mediaType: OCI_MANIFEST_MEDIA_TYPE,
              size: first.length,
              digest: sha256Digest(first),
              annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'org.opencontainers.image.created': '2026-01-01T00:00:01Z' },
              artifactType: BUNDLE,
            },
          ],
        }),
      );

      await attach(second, 'application/vnd.example.other');
      await attach(first);
      const listed = await client.listReferrers(r(), subjectDigest);
      expect(listed.source).toBe('tag-fallback');
      expect(listed.index.manifests.map((m) => m.digest)).toEqual([sha256Digest(first), sha256Digest(second)]);
      const bundles = await client.listReferrers(r(), subjectDigest, { artifactType: BUNDLE });
      expect(bundles.index.manifests.map((m) => m.digest)).toEqual([sha256Digest(first)]);
      // A subject nobody refers to: an empty index.
      expect((await client.listReferrers(r(), sha256Digest(Buffer.from('nothing')))).index.manifests).toEqual([]);
    });

    (skopeoBinary ? it : it.skip)('is readable by skopeo', async () => {
      await client.putManifest(r(), 'skopeo', OCI_MANIFEST_MEDIA_TYPE, subject);
      const { stdout } = await run(skopeoBinary!, ['inspect', '--raw', '--tls-verify=false', `docker://${host}/it/wasm@${subjectDigest}`]);
      expect(stdout.toString().trim()).toBe(subject.toString());
      const byTag = await run(skopeoBinary!, ['inspect', '--raw', '--tls-verify=false', `docker://${host}/it/wasm:skopeo`]);
      expect(sha256Digest(Buffer.from(byTag.stdout.toString().trim()))).toBe(subjectDigest);
    });
  });
});
