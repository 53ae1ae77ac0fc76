import { createHash, createPublicKey, randomUUID, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedJob, type JobView } from './support/jobs';
import { RegistryReader, skopeoInspect } from './support/registry-http';
import { ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';

const FIXTURES = join(REPO_ROOT, 'src/artifacts/__fixtures__');
const component = readFileSync(join(FIXTURES, 'hello-http.wasm'));
const coreModule = readFileSync(join(FIXTURES, 'hello-module.wasm'));
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Upload → OCI push → keyless signature, end to end against the real registry and the local Sigstore stack. */
describe('publish and sign', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryReader(registryHost);
  const trustedRoot = JSON.parse(readFileSync(env.stackEnv.SIGSTORE_TRUSTED_ROOT_FILE!, 'utf8'));
  let database: TestDatabase;
  let service: ServiceProcess;

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start(
      testServiceEnv(database.url, 'publish', {
        MAX_UPLOAD_BYTES: String(1024 * 1024),
      }),
    );
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
  });

  const newRepository = () => `${registryHost}/e2e/${randomUUID().slice(0, 12)}`;
  const uploadRaw = (query: string, body: Buffer, headers: Record<string, string> = {}) =>
    service.fetch(`/v1/artifacts?${query}`, { method: 'POST', headers: { 'content-type': 'application/wasm', ...headers }, body });

  describe('an uploaded component', () => {
    const repository = newRepository();
    const path = repository.slice(registryHost.length + 1);
    let job: JobView;

    beforeAll(async () => {
      const response = await uploadRaw(
        `repository=${encodeURIComponent(repository)}&tag=v1.0.0&annotation.org.opencontainers.image.source=https%3A%2F%2Fexample.com%2Fhello`,
        component,
      );
      expect(response.status).toBe(202);
      const accepted = (await response.json()) as JobView;
      expect(response.headers.get('location')).toBe(`/v1/jobs/${accepted.id}`);
      expect(accepted).toMatchObject({ type: 'publish', state: 'queued' });
      job = await finishedJob(service, accepted.id);
    });

    it('ends succeeded with the result a build system needs', () => {
      expect(job.error).toBeNull();
      expect(job.state).toBe('succeeded');
      expect(job.steps.map((s) => [s.name, s.state])).toEqual([
        ['push', 'succeeded'],
        ['sign', 'succeeded'],
        ['verify', 'succeeded'],
      ]);
      expect(job.result).toMatchObject({
        repository,
        reference: `${repository}@${job.result!.manifestDigest}`,
        wasmDigest: sha256(component),
        tag: 'v1.0.0',
        verification: { verified: true },
      });
      expect(job.result!.signatures.map((s: { format: string }) => s.format).sort()).toEqual(['cosign-classic', 'sigstore-bundle']);
      for (const signature of job.result!.signatures) {
        expect(signature).toMatchObject({
          identity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY,
          issuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL,
          logIndex: expect.any(Number),
          entryUuid: expect.stringMatching(/^[0-9a-f]{80}$/),
        });
      }
    });

    it('is in the registry in the oci-wasm layout, as skopeo reads it', () => {
      const manifest = skopeoInspect(`${repository}:v1.0.0`);
      expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
      expect(manifest.config.mediaType).toBe('application/vnd.wasm.config.v0+json');
      expect(manifest.layers).toHaveLength(1);
      expect(manifest.layers[0]).toMatchObject({ mediaType: 'application/wasm', digest: sha256(component), size: component.length });
      expect(manifest.annotations['org.opencontainers.image.source']).toBe('https://example.com/hello');

      const config = skopeoInspect(`${repository}@${job.result!.manifestDigest}`, 'config');
      expect(config).toMatchObject({ architecture: 'wasm', os: 'wasip2', layerDigests: [sha256(component)] });
      expect(config.component.exports).toEqual(['wasi:http/incoming-handler@0.2.0']);
      expect(config.component.imports).toEqual(expect.arrayContaining(['wasi:io/streams@0.2.0', 'wasi:http/types@0.2.0']));
    });

    it('has a cosign classic signature: the exact payload, a signature that verifies with the certificate, a SET from the local Rekor', async () => {
      const digest = job.result!.manifestDigest as string;
      const sig = await registry.manifest(path, `${digest.replace(':', '-')}.sig`);
      expect(sig.status).toBe(200);
      expect(sig.json!.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
      expect(sig.json!.layers).toHaveLength(1);
      const layer = sig.json!.layers[0];
      expect(layer.mediaType).toBe('application/vnd.dev.cosign.simplesigning.v1+json');

      const payload = (await registry.blob(path, layer.digest))!;
      expect(payload.toString('utf8')).toBe(
        `{"critical":{"identity":{"docker-reference":"${repository}"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":{"dev.wasm-signer.requested-by":"api-key:bootstrap"}}`,
      );
      expect(layer.digest).toBe(sha256(payload));

      const certificatePem = layer.annotations['dev.sigstore.cosign/certificate'];
      const signature = Buffer.from(layer.annotations['dev.cosignproject.cosign/signature'], 'base64');
      expect(verify('sha256', payload, createPublicKey(certificatePem), signature)).toBe(true);
      expect(verify('sha256', Buffer.from('tampered'), createPublicKey(certificatePem), signature)).toBe(false);

      const rekorBundle = JSON.parse(layer.annotations['dev.sigstore.cosign/bundle']);
      const rekorKey = createPublicKey({ key: Buffer.from(trustedRoot.tlogs[0].publicKey.rawBytes, 'base64'), format: 'der', type: 'spki' });
      const { body, integratedTime, logID, logIndex } = rekorBundle.Payload;
      const canonical = JSON.stringify({ body, integratedTime, logID, logIndex });
      expect(verify('sha256', Buffer.from(canonical), rekorKey, Buffer.from(rekorBundle.SignedEntryTimestamp, 'base64'))).toBe(true);

      const entry = JSON.parse(Buffer.from(body, 'base64').toString('utf8'));
      expect(entry).toMatchObject({ kind: 'hashedrekord', apiVersion: '0.0.1' });
      expect(entry.spec.data.hash).toEqual({ algorithm: 'sha256', value: sha256(payload).slice(7) });
      expect(Buffer.from(entry.spec.signature.publicKey.content, 'base64').toString('utf8').trim()).toBe(certificatePem.trim());
      expect(layer.annotations['dev.sigstore.cosign/rfc3161timestamp']).toBeDefined();

      // The record's log index is the Rekor entry's.
      const classic = job.result!.signatures.find((s: { format: string }) => s.format === 'cosign-classic');
      expect(classic.logIndex).toBe(logIndex);
      const fromRekor = (await (await fetch(`${env.stackEnv.SIGSTORE_REKOR_URL}/api/v1/log/entries?logIndex=${logIndex}`)).json()) as Record<string, { body: string }>;
      expect(Object.keys(fromRekor)).toEqual([classic.entryUuid]);
      expect(Object.values(fromRekor)[0]!.body).toBe(body);
    });

    it('has a Sigstore bundle referrer listed in the referrers fallback index', async () => {
      const digest = job.result!.manifestDigest as string;
      const index = await registry.manifest(path, digest.replace(':', '-'));
      expect(index.status).toBe(200);
      expect(index.json!.mediaType).toBe('application/vnd.oci.image.index.v1+json');
      const referrers = index.json!.manifests.filter((m: { artifactType?: string }) => m.artifactType === 'application/vnd.dev.sigstore.bundle.v0.3+json');
      expect(referrers).toHaveLength(1);

      const referrer = await registry.manifest(path, referrers[0].digest);
      expect(referrer.json!.subject).toMatchObject({ digest, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
      const bundle = JSON.parse((await registry.blob(path, referrer.json!.layers[0].digest))!.toString('utf8'));
      expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
      const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
      expect(statement).toMatchObject({ _type: 'https://in-toto.io/Statement/v1', predicateType: 'https://sigstore.dev/cosign/sign/v1' });
      expect(statement.subject[0].digest.sha256).toBe(digest.slice(7));
    });

    it('streams the same job as server-sent events', async () => {
      const response = await service.fetch(`/v1/jobs/${job.id}/events`);
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      const text = await response.text();
      const events = text.split('\n\n').filter((e) => e.includes('event: job'));
      expect(events.length).toBeGreaterThanOrEqual(1);
      const last = JSON.parse(
        events
          .at(-1)!
          .split('\n')
          .find((l) => l.startsWith('data: '))!
          .slice(6),
      );
      expect(last).toMatchObject({ id: job.id, state: 'succeeded' });
    });
  });

  it('takes a core module as multipart form data, as Swagger UI sends it', async () => {
    const repository = newRepository();
    const form = new FormData();
    form.append('repository', repository);
    form.append('tag', 'module-1');
    form.append('annotations', JSON.stringify({ 'com.example.team': 'platform' }));
    form.append('file', new Blob([coreModule], { type: 'application/wasm' }), 'hello-module.wasm');
    const response = await service.fetch('/v1/artifacts', { method: 'POST', body: form });
    expect(response.status).toBe(202);
    const job = await finishedJob(service, ((await response.json()) as JobView).id);
    expect(job.state).toBe('succeeded');
    const manifest = skopeoInspect(`${repository}:module-1`);
    expect(manifest.layers[0].annotations['org.opencontainers.image.title']).toBe('hello-module.wasm');
    expect(manifest.annotations['com.example.team']).toBe('platform');
    expect(skopeoInspect(`${repository}:module-1`, 'config')).toMatchObject({ os: 'wasip1', component: null });
  });

  it('signs an artifact already in the registry, resolving its tag to the digest', async () => {
    const repository = newRepository();
    const published = await finishedJob(service, ((await (await uploadRaw(`repository=${encodeURIComponent(repository)}&tag=stable`, component)).json()) as JobView).id);
    const digest = published.result!.manifestDigest;

    const response = await service.fetch('/v1/signatures', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reference: `${repository}:stable` }),
    });
    expect(response.status).toBe(202);
    const job = await finishedJob(service, ((await response.json()) as JobView).id);
    expect(job.state).toBe('succeeded');
    expect(job.result!.signatures).toHaveLength(2);
    expect(job.result!.signatures[0]).toMatchObject({ identity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY });

    // The second signature is appended to the .sig image; the first is kept.
    const sig = await registry.manifest(repository.slice(registryHost.length + 1), `${digest.replace(':', '-')}.sig`);
    expect(sig.json!.layers).toHaveLength(2);
    const index = await registry.manifest(repository.slice(registryHost.length + 1), digest.replace(':', '-'));
    expect(index.json!.manifests).toHaveLength(2);
  });

  it('returns the same job for the same Idempotency-Key', async () => {
    const repository = newRepository();
    const key = randomUUID();
    const first = await uploadRaw(`repository=${encodeURIComponent(repository)}`, component, { 'idempotency-key': key });
    const again = await uploadRaw(`repository=${encodeURIComponent(repository)}`, component, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    const firstId = ((await first.json()) as JobView).id;
    expect(((await again.json()) as JobView).id).toBe(firstId);

    // The same key for another request is refused, naming the job it belongs to.
    const other = await uploadRaw(`repository=${encodeURIComponent(newRepository())}`, component, { 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect(await other.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', jobId: firstId });
  });

  describe('bad input gets a clear 4xx and nothing is pushed', () => {
    const expectProblem = async (response: Response, status: number, code: string) => {
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const problem = (await response.json()) as { code: string; detail: string };
      expect({ status: response.status, code: problem.code }).toEqual({ status, code });
      return problem;
    };
    const expectNothingPushed = async (repository: string, bytes: Buffer) => {
      const path = repository.slice(registryHost.length + 1);
      expect(await registry.blobStatus(path, sha256(bytes))).toBe(404);
      expect(await registry.tags(path)).toEqual([]);
    };

    it('a file that is not WebAssembly', async () => {
      const repository = newRepository();
      const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(64)]);
      const problem = await expectProblem(await uploadRaw(`repository=${encodeURIComponent(repository)}&tag=x`, elf), 422, 'WASM_BAD_MAGIC');
      expect(problem.detail).toContain('7f 45 4c 46');
      await expectNothingPushed(repository, elf);
    });

    it('a truncated file', async () => {
      const repository = newRepository();
      const cut = component.subarray(0, Math.floor(component.length / 2));
      await expectProblem(await uploadRaw(`repository=${encodeURIComponent(repository)}&tag=x`, cut), 422, 'WASM_TRUNCATED');
      await expectNothingPushed(repository, cut);
    });

    it('a malformed section', async () => {
      const repository = newRepository();
      const broken = Buffer.from(coreModule);
      broken[8] = 0x7e; // an invalid section id right after the preamble
      await expectProblem(await uploadRaw(`repository=${encodeURIComponent(repository)}`, broken), 422, 'WASM_MALFORMED_SECTION');
      await expectNothingPushed(repository, broken);
    });

    it('a file over MAX_UPLOAD_BYTES', async () => {
      const repository = newRepository();
      const large = Buffer.concat([coreModule.subarray(0, 8), Buffer.alloc(2 * 1024 * 1024)]);
      await expectProblem(await uploadRaw(`repository=${encodeURIComponent(repository)}`, large), 413, 'PAYLOAD_TOO_LARGE');
      await expectNothingPushed(repository, large);
    });

    it('a missing or invalid repository, an invalid tag, another content type', async () => {
      await expectProblem(await uploadRaw('tag=v1', component), 400, 'VALIDATION_FAILED');
      await expectProblem(await uploadRaw('repository=no-registry-host', component), 400, 'INVALID_REFERENCE');
      await expectProblem(await uploadRaw(`repository=${encodeURIComponent(newRepository())}&tag=-bad`, component), 400, 'VALIDATION_FAILED');
      await expectProblem(
        await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(newRepository())}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
    });

    it('signing a reference that does not exist, or is not a reference', async () => {
      const sign = (reference: string) => service.fetch('/v1/signatures', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reference }) });
      await expectProblem(await sign(`${newRepository()}:missing`), 404, 'MANIFEST_NOT_FOUND');
      await expectProblem(await sign('not a reference'), 400, 'INVALID_REFERENCE');
      await expectProblem(await sign(`${newRepository()}`), 400, 'INVALID_REFERENCE');
    });
  });
});
