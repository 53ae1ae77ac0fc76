import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedJob, type JobView } from './support/jobs';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess } from './support/service-process';
import { TcpProxy } from './support/tcp-proxy';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment } from './support/test-environment';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
const SIGN_JOBS = 4;
const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/**
 * Several jobs signing the same manifest at once. Distribution 2.8 has no conditional write, so the
 * `.sig` image and the referrers fallback index are read, appended to and written back under a named
 * lock; without it, concurrent jobs overwrite each other's signatures. The registry is reached through a
 * slow link (a proxy adding latency) so that the read-modify-writes overlap.
 */
describe('jobs signing the same manifest at once', () => {
  const env = testEnvironment();
  const [targetHost, targetPort] = env.stackEnv.LOCAL_REGISTRY!.split(':');
  let proxy: TcpProxy;
  let registryHost: string;
  let database: TestDatabase;
  let service: ServiceProcess;

  beforeAll(async () => {
    proxy = await TcpProxy.start(targetHost!, Number(targetPort), { latencyMs: 40 });
    registryHost = `127.0.0.1:${proxy.port}`;
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start({
      ...env.stackEnv,
      REGISTRY_INSECURE_HOSTS: registryHost,
      DATABASE_URL: database.url,
      REDIS_URL: env.redisUrl,
      QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
      WORKER_CONCURRENCY: String(SIGN_JOBS * 2),
      // A signature lost to a concurrent write is never attached: fail soon rather than retry verify.
      STEP_MAX_ATTEMPTS: '2',
      STEP_RETRY_BASE_MS: '200',
    });
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
    await proxy?.close();
  });

  it(`keeps every signature of ${SIGN_JOBS} concurrent sign jobs in the .sig image and the fallback index, and each verifies`, async () => {
    const repository = `${registryHost}/e2e/concurrent-${randomUUID().slice(0, 12)}`;
    const path = repository.slice(registryHost.length + 1);
    const upload = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    expect(upload.status).toBe(202);
    const published = await finishedJob(service, ((await upload.json()) as JobView).id, 120_000);
    expect([published.state, published.error]).toEqual(['succeeded', null]);
    const digest = published.result!.manifestDigest as string;

    const submitted = await Promise.all(
      Array.from({ length: SIGN_JOBS }, async () => {
        const response = await service.fetch('/v1/signatures', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ reference: `${repository}@${digest}` }),
        });
        expect(response.status).toBe(202);
        return ((await response.json()) as JobView).id;
      }),
    );
    const jobs = await Promise.all(submitted.map((id) => finishedJob(service, id, 180_000)));
    expect(jobs.map((job) => [job.state, job.error])).toEqual(jobs.map(() => ['succeeded', null]));

    // Every job made one signature of each format; the publish job made one too.
    const made = [published, ...jobs].flatMap((job) => job.result!.signatures as { format: string; logIndex: number }[]);
    const classicIndices = made.filter((s) => s.format === 'cosign-classic').map((s) => s.logIndex);
    const bundleIndices = made.filter((s) => s.format === 'sigstore-bundle').map((s) => s.logIndex);
    expect(classicIndices).toHaveLength(SIGN_JOBS + 1);
    expect(bundleIndices).toHaveLength(SIGN_JOBS + 1);

    // Read straight from the registry (not through the proxy): one .sig layer per classic signature,
    // one fallback-index entry per bundle referrer.
    const registry = new RegistryReader(env.stackEnv.LOCAL_REGISTRY!);
    const sig = await registry.manifest(path, `${digest.replace(':', '-')}.sig`);
    expect(sig.status).toBe(200);
    expect(sig.json!.layers).toHaveLength(SIGN_JOBS + 1);
    const index = await registry.manifest(path, digest.replace(':', '-'));
    expect(index.status).toBe(200);
    const referrers = (index.json!.manifests as { artifactType?: string }[]).filter((m) => m.artifactType === BUNDLE_MEDIA_TYPE);
    expect(referrers).toHaveLength(SIGN_JOBS + 1);

    // And each of them verifies, found as any consumer finds them.
    const response = await service.fetch('/v1/verifications', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        reference: `${repository}@${digest}`,
        policy: { certificateIdentity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY, certificateOidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL },
      }),
    });
    expect(response.status).toBe(200);
    const verification = (await response.json()) as { verified: boolean; signatures: { format: string; verified: boolean; logIndex: number }[] };
    expect(verification.verified).toBe(true);
    const verified = (format: string) =>
      verification.signatures
        .filter((s) => s.format === format && s.verified)
        .map((s) => s.logIndex)
        .sort();
    expect(verified('cosign-classic')).toEqual([...classicIndices].sort());
    expect(verified('sigstore-bundle')).toEqual([...bundleIndices].sort());
  });
});
