import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedJob, type JobView } from './support/jobs';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess, tempDir } from './support/service-process';
import { REPO_ROOT, testEnvironment } from './support/test-environment';

interface AdmissionAnswer {
  apiVersion: string;
  kind: string;
  response: { uid: string; allowed: boolean; status?: { code: number; message: string }; warnings?: string[] };
}

/** The Kubernetes validating webhook: Pods judged against ADMISSION_POLICY_FILE, live from the registry. */
describe('POST /v1/admission', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryReader(registryHost);
  const identity = env.stackEnv.LOCAL_CERTIFICATE_IDENTITY!;
  const issuer = env.stackEnv.LOCAL_OIDC_ISSUER_URL!;
  const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  const repository = `${registryHost}/e2e-admission/app-${randomUUID().slice(0, 8)}`;
  const path = repository.slice(registryHost.length + 1);
  let service: ServiceProcess;
  let digest: string;
  let unsignedDigest: string;

  beforeAll(async () => {
    const dataDir = tempDir('admission');
    const policyFile = join(dataDir, 'admission-policy.json');
    writeFileSync(
      policyFile,
      JSON.stringify({ images: [{ pattern: `${registryHost}/e2e-admission/**`, policy: { certificateIdentity: identity, certificateOidcIssuer: issuer } }] }),
    );
    service = await ServiceProcess.start({
      ...env.stackEnv,
      DATA_DIR: dataDir,
      REDIS_URL: env.redisUrl,
      QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
      ADMISSION_POLICY_FILE: policyFile,
    });
    const response = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    const job = await finishedJob(service, ((await response.json()) as JobView).id);
    expect(job.state).toBe('succeeded');
    digest = job.result!.manifestDigest;

    // Another manifest in the same repository, pushed directly: never signed.
    const other = JSON.parse((await registry.manifest(path, digest)).bytes!.toString('utf8'));
    other.annotations = { ...other.annotations, 'com.example.copy': 'unsigned' };
    const put = await fetch(`http://${registryHost}/v2/${path}/manifests/unsigned`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: JSON.stringify(other),
    });
    expect(put.status).toBe(201);
    unsignedDigest = put.headers.get('docker-content-digest')!;
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
  });

  const podReview = (uid: string, images: string[]) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      operation: 'CREATE',
      object: { apiVersion: 'v1', kind: 'Pod', spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } },
    },
  });
  const review = (body: unknown) => service.fetch('/v1/admission', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answerTo = async (body: unknown) => {
    const response = await review(body);
    expect(response.status).toBe(200);
    return (await response.json()) as AdmissionAnswer;
  };

  it('allows a Pod whose image is signed as the policy says, naming the digest its tag resolved to', async () => {
    const answer = await answerTo(podReview('uid-signed', [`${repository}:v1`]));
    expect(answer).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'uid-signed', allowed: true, warnings: [`${repository}:v1 is ${repository}@${digest}`] },
    });
  });

  it('denies a Pod with an unsigned image, one line for that image', async () => {
    const answer = await answerTo(podReview('uid-unsigned', [`${repository}:v1`, `${repository}:unsigned`]));
    expect(answer.response).toMatchObject({ uid: 'uid-unsigned', allowed: false, status: { code: 403 } });
    expect(answer.response.status!.message.split('\n')).toEqual([expect.stringMatching(new RegExp(`^${escape(`${repository}:unsigned`)}: NO_SIGNATURES: .*${unsignedDigest}`))]);
  });

  it('denies an image that is covered but missing from the registry (fail closed), not a 5xx', async () => {
    const answer = await answerTo(podReview('uid-missing', [`${repository}:nope`]));
    expect(answer.response.allowed).toBe(false);
    expect(answer.response.status!.message).toMatch(new RegExp(`^${escape(`${repository}:nope`)}: MANIFEST_NOT_FOUND: `));
  });

  it('allows an image no pattern covers, untouched, with a warning', async () => {
    const outside = `${registryHost}/elsewhere/app:v1`;
    const answer = await answerTo(podReview('uid-outside', [outside]));
    expect(answer.response).toEqual({
      uid: 'uid-outside',
      allowed: true,
      warnings: [`${outside}: no admission policy pattern covers ${registryHost}/elsewhere/app; admitted without verification`],
    });
  });

  it('refuses a malformed review with 400 INVALID_ADMISSION_REVIEW', async () => {
    const noUid = podReview('x', []);
    delete (noUid.request as Partial<typeof noUid.request>).uid;
    const response = await review(noUid);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await response.json()).toMatchObject({ code: 'INVALID_ADMISSION_REVIEW', detail: 'request.uid must be a non-empty string' });
  });
});

describe('POST /v1/admission without a usable ADMISSION_POLICY_FILE', () => {
  const env = testEnvironment();

  it('refuses to start on a bad rule, naming the variable, the rule and the problem (exit 78)', async () => {
    const dataDir = tempDir('admission-bad');
    const policyFile = join(dataDir, 'admission-policy.json');
    writeFileSync(policyFile, JSON.stringify({ images: [{ pattern: 'r.example/team/**', policy: { certificateIdentity: 'https://example.com/ci' } }] }));
    const bad = await ServiceProcess.start(
      { ...env.stackEnv, DATA_DIR: dataDir, REDIS_URL: env.redisUrl, QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`, ADMISSION_POLICY_FILE: policyFile },
      { waitForLive: false },
    );
    expect(await bad.exited).toBe(78);
    expect(bad.logs).toContain('invalid configuration');
    expect(bad.logs).toContain('ADMISSION_POLICY_FILE: images[0].policy: INVALID_POLICY: policy.certificateOidcIssuer');
  });

  it('answers 503 ADMISSION_POLICY_MISSING when the variable is unset, so the cluster fails closed', async () => {
    const service = await ServiceProcess.start({ ...env.stackEnv, DATA_DIR: tempDir('admission-none'), REDIS_URL: env.redisUrl, QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}` });
    try {
      const response = await service.fetch('/v1/admission', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ code: 'ADMISSION_POLICY_MISSING', detail: expect.stringContaining('ADMISSION_POLICY_FILE is not set') });
    } finally {
      await service.stop('SIGTERM');
    }
  });
});

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
