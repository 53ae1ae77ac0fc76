import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedJob, type JobView } from './support/jobs';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';

interface Verification {
  verified: boolean;
  digest: string;
  fromCache: boolean;
  checkedAt: string;
  error: { code: string } | null;
}

/**
 * The verdict cache of POST /v1/verifications, across two API processes sharing a database, Redis and
 * queue prefix: a verdict is reused for the same digest and policy only, `maxAge: 0` is live, and a
 * signature attached through one process is seen at once by the other (failed verdicts are kept for
 * 600 s here, so only the invalidation can explain it).
 */
describe('POST /v1/verifications: the verdict cache', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryReader(registryHost);
  const identity = env.stackEnv.LOCAL_CERTIFICATE_IDENTITY!;
  const issuer = env.stackEnv.LOCAL_OIDC_ISSUER_URL!;
  const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  const repository = `${registryHost}/e2e/verdict-cache-${randomUUID().slice(0, 8)}`;
  const path = repository.slice(registryHost.length + 1);
  const policy = { certificateIdentity: identity, certificateOidcIssuer: issuer };
  let database: TestDatabase;
  let signer: ServiceProcess;
  let api: ServiceProcess;
  let digest: string;

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    const serviceEnv = testServiceEnv(database.url, 'verdict-cache', { VERIFICATION_CACHE_FAILED_TTL_SECONDS: '600' });
    // One after the other: the first runs the migrations.
    signer = await ServiceProcess.start(serviceEnv);
    api = await ServiceProcess.start({ ...serviceEnv, ROLE: 'api' });
    const response = await signer.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    const job = await finishedJob(signer, ((await response.json()) as JobView).id);
    expect(job.state).toBe('succeeded');
    digest = job.result!.manifestDigest;
  });

  afterAll(async () => {
    await Promise.all([signer, api].filter(Boolean).map((service) => service.stop('SIGTERM')));
    await database?.drop();
  });

  const post = (service: ServiceProcess, body: Record<string, unknown>) =>
    service.fetch('/v1/verifications', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const verify = async (service: ServiceProcess, reference: string, body: Record<string, unknown> = {}) => {
    const response = await post(service, { reference, policy, ...body });
    expect(response.status).toBe(200);
    return (await response.json()) as Verification;
  };

  it('answers the same digest and policy from the cache, another policy live, and maxAge 0 live', async () => {
    const first = await verify(api, `${repository}@${digest}`, { maxAge: 0 });
    expect(first).toMatchObject({ verified: true, fromCache: false });
    expect(Date.parse(first.checkedAt)).not.toBeNaN();
    const again = await verify(api, `${repository}@${digest}`);
    expect(again).toEqual({ ...first, fromCache: true });
    // By tag: the same digest, the same verdict.
    expect(await verify(api, `${repository}:v1`)).toMatchObject({ fromCache: true, checkedAt: first.checkedAt });

    const otherPolicy = await verify(api, `${repository}@${digest}`, { policy: { certificateIdentityRegExp: '.+', certificateOidcIssuer: issuer } });
    expect(otherPolicy).toMatchObject({ verified: true, fromCache: false });
    const annotated = await verify(api, `${repository}@${digest}`, { policy: { ...policy, annotations: { stage: 'prod' } } });
    expect(annotated).toMatchObject({ verified: false, fromCache: false, error: { code: 'NO_VERIFIED_SIGNATURE' } });

    const live = await verify(api, `${repository}@${digest}`, { maxAge: 0 });
    expect(live.fromCache).toBe(false);
    expect(Date.parse(live.checkedAt)).toBeGreaterThan(Date.parse(first.checkedAt));
    // The live check is what is cached now; a generous maxAge takes it.
    expect(await verify(api, `${repository}@${digest}`, { maxAge: 3600 })).toMatchObject({ fromCache: true, checkedAt: live.checkedAt });
  });

  it('refuses a maxAge that is not a non-negative integer', async () => {
    for (const maxAge of [-1, 1.5, '10', 86401]) {
      const response = await post(api, { reference: `${repository}@${digest}`, policy, maxAge });
      expect([maxAge, response.status]).toEqual([maxAge, 400]);
      expect(((await response.json()) as { code: string }).code).toBe('VALIDATION_FAILED');
    }
  });

  it('gives a verify job fromCache and checkedAt too', async () => {
    const response = await post(api, { reference: `${repository}@${digest}`, policy, maxAge: 0, async: true });
    expect(response.status).toBe(202);
    const job = await finishedJob(api, ((await response.json()) as JobView).id);
    expect(job.state).toBe('succeeded');
    expect(job.result).toMatchObject({ verified: true, fromCache: false, checkedAt: expect.any(String) });
  });

  it('sees a signature attached through another process at once', async () => {
    // Another manifest in the repository, pushed directly: not signed yet.
    const original = await registry.manifest(path, digest);
    const other = JSON.parse(original.bytes!.toString('utf8'));
    other.annotations = { ...other.annotations, 'com.example.copy': randomUUID() };
    const put = await fetch(`http://${registryHost}/v2/${path}/manifests/late`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: Buffer.from(JSON.stringify(other)),
    });
    expect(put.status).toBe(201);
    const lateDigest = put.headers.get('docker-content-digest')!;

    expect(await verify(api, `${repository}@${lateDigest}`)).toMatchObject({ verified: false, fromCache: false, error: { code: 'NO_SIGNATURES' } });
    expect(await verify(api, `${repository}@${lateDigest}`)).toMatchObject({ verified: false, fromCache: true });

    const sign = await signer.fetch('/v1/signatures', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reference: `${repository}@${lateDigest}` }),
    });
    expect(sign.status).toBe(202);
    const job = await finishedJob(signer, ((await sign.json()) as JobView).id);
    expect(job.state).toBe('succeeded');

    expect(await verify(api, `${repository}@${lateDigest}`)).toMatchObject({ verified: true, fromCache: false, error: null });
  });

  it('records and audits every one of a burst of concurrent verifications before answering it, none lost', async () => {
    const burst = `burst-${randomUUID().slice(0, 8)}`;
    const ids = Array.from({ length: 60 }, (_, i) => `${burst}-${i}`);
    const [{ records: recordsBefore }] = await database.query<{ records: string }>(`select count(*) as records from verifications where digest = $1 and job_id is null`, [digest]);
    const answers = await Promise.all(
      ids.map(async (id, i) => {
        // Both processes, cached and live answers mixed.
        const response = await (i % 2 ? api : signer).fetch('/v1/verifications', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': id },
          body: JSON.stringify({ reference: `${repository}@${digest}`, policy, ...(i % 3 === 0 ? { maxAge: 0 } : {}) }),
        });
        expect(response.status).toBe(200);
        const answer = (await response.json()) as Verification;
        // Read at once, when the answer is in: the record and the completed audit entry are there already.
        const [audit] = await database.query<{ outcome: string; status: number; completed_at: Date | null; action: string }>(
          'select outcome, status, completed_at, action from audit_events where request_id = $1',
          [id],
        );
        expect(audit).toMatchObject({ outcome: 'succeeded', status: 200, completed_at: expect.any(Date) });
        return answer;
      }),
    );
    expect(answers.every((answer) => answer.verified)).toBe(true);
    expect(answers.filter((answer) => answer.fromCache).length).toBeGreaterThan(0);

    const [{ entries }] = await database.query<{ entries: string }>(`select count(*) as entries from audit_events where request_id like $1 and completed_at is not null`, [
      `${burst}-%`,
    ]);
    expect(Number(entries)).toBe(ids.length);
    // One record per verification: as many new records of this digest as requests.
    const [{ records }] = await database.query<{ records: string }>(`select count(*) as records from verifications where digest = $1 and job_id is null`, [digest]);
    expect(Number(records) - Number(recordsBefore)).toBe(ids.length);
  });
});
