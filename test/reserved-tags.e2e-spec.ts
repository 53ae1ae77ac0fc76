import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedJob, type JobView } from './support/jobs';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';

const FIXTURES = join(REPO_ROOT, 'src/artifacts/__fixtures__');
const componentA = readFileSync(join(FIXTURES, 'hello-http.wasm'));
const moduleB = readFileSync(join(FIXTURES, 'hello-module.wasm'));

/** The tags cosign and the referrers fallback derive from A's digest belong to A: nobody can publish B under them. */
describe('reserved tags', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryReader(registryHost);
  const repository = `${registryHost}/e2e/reserved-${randomUUID().slice(0, 8)}`;
  const path = repository.slice(registryHost.length + 1);
  let database: TestDatabase;
  let service: ServiceProcess;
  let digest: string;
  let before: Map<string, Buffer>;

  /** A's .sig manifest, its layers and config, and its referrers index: what an overwrite would change. */
  async function signatureState(): Promise<Map<string, Buffer>> {
    const state = new Map<string, Buffer>();
    const sig = await registry.manifest(path, `${digest.replace(':', '-')}.sig`);
    const index = await registry.manifest(path, digest.replace(':', '-'));
    expect(sig.status).toBe(200);
    expect(index.status).toBe(200);
    state.set('sig manifest', sig.bytes!);
    state.set('referrers index', index.bytes!);
    for (const blob of [sig.json!.config, ...sig.json!.layers] as { digest: string }[]) state.set(blob.digest, (await registry.blob(path, blob.digest))!);
    for (const referrer of index.json!.manifests as { digest: string }[]) state.set(referrer.digest, (await registry.manifest(path, referrer.digest)).bytes!);
    return state;
  }

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start(testServiceEnv(database.url, 'reserved-tags'));
    const response = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: componentA,
    });
    expect(response.status).toBe(202);
    const job: JobView = await finishedJob(service, ((await response.json()) as JobView).id);
    expect(job.state).toBe('succeeded');
    digest = job.result!.manifestDigest as string;
    before = await signatureState();
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
  });

  const derivedTags = () => {
    const hex = digest.slice('sha256:'.length);
    return [`sha256-${hex}.sig`, `sha256-${hex}`, `sha256-${hex}.att`, `sha256-${hex}.sbom`, `SHA256-${hex.toUpperCase()}.sig`];
  };

  const uploadRaw = (tag: string) =>
    service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=${encodeURIComponent(tag)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: moduleB,
    });
  const uploadMultipart = (tag: string) => {
    const form = new FormData();
    form.set('repository', repository);
    form.set('tag', tag);
    form.set('file', new Blob([moduleB], { type: 'application/wasm' }), 'b.wasm');
    return service.fetch('/v1/artifacts', { method: 'POST', body: form });
  };

  it("refuses to publish B under each of A's derived tags, raw and multipart, with 422 RESERVED_TAG", async () => {
    const jobsBefore = await database.query('SELECT id FROM jobs');
    for (const tag of derivedTags()) {
      for (const response of [await uploadRaw(tag), await uploadMultipart(tag)]) {
        expect(response.status).toBe(422);
        expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        const problem = (await response.json()) as { code: string; detail: string };
        expect(problem.code).toBe('RESERVED_TAG');
        expect(problem.detail).toContain(`derived from the digest ${digest}`);
        expect(problem.detail).toContain('only the signing path writes them');
      }
    }
    expect(await database.query('SELECT id FROM jobs')).toEqual(jobsBefore);
  });

  it("leaves A's signature manifest, its layers and its referrers index byte-identical", async () => {
    const after = await signatureState();
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [what, bytes] of before) expect({ what, same: after.get(what)!.equals(bytes) }).toEqual({ what, same: true });
  });

  it('still verifies A, both formats', async () => {
    const response = await service.fetch('/v1/verifications', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        reference: `${repository}@${digest}`,
        policy: { certificateIdentity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY, certificateOidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL },
      }),
    });
    expect(response.status).toBe(200);
    const result = (await response.json()) as { verified: boolean; signatures: { format: string; verified: boolean }[] };
    expect(result.verified).toBe(true);
    expect(result.signatures.map((s) => [s.format, s.verified]).sort()).toEqual([
      ['cosign-classic', true],
      ['sigstore-bundle', true],
    ]);
  });

  it('still lets a caller use an ordinary tag that merely mentions a digest', async () => {
    const response = await uploadRaw(`build-${digest.replace(':', '-')}`);
    expect(response.status).toBe(202);
    const job = await finishedJob(service, ((await response.json()) as JobView).id);
    expect(job.state).toBe('succeeded');
  });
});
