import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
  const signedBy = (certificateIdentity: string) => ({ pattern: `${registryHost}/e2e-admission/**`, policy: { certificateIdentity, certificateOidcIssuer: issuer } });
  const initialPolicy = JSON.stringify({ images: [signedBy(identity)] });
  let service: ServiceProcess;
  let policyFile: string;
  let digest: string;
  let unsignedDigest: string;

  beforeAll(async () => {
    const dataDir = tempDir('admission');
    // In a directory of its own, as a ConfigMap mount is: the service watches the file's directory.
    mkdirSync(join(dataDir, 'policy'));
    policyFile = join(dataDir, 'policy', 'admission-policy.json');
    writeFileSync(policyFile, initialPolicy);
    service = await ServiceProcess.start({
      ...env.stackEnv,
      DATA_DIR: dataDir,
      REDIS_URL: env.redisUrl,
      QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
      ADMISSION_POLICY_FILE: policyFile,
      ADMISSION_POLICY_CHECK_INTERVAL_SECONDS: '1',
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

  const spinAppReview = (uid: string, image: string) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: 'core.spinkube.dev', version: 'v1alpha1', kind: 'SpinApp' },
      resource: { group: 'core.spinkube.dev', version: 'v1alpha1', resource: 'spinapps' },
      operation: 'CREATE',
      object: { apiVersion: 'core.spinkube.dev/v1alpha1', kind: 'SpinApp', metadata: { name: 'hello' }, spec: { image, executor: 'containerd-shim-spin', replicas: 2 } },
    },
  });
  const workloadReview = (uid: string, group: string, kind: string, spec: Record<string, unknown>) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid, kind: { group, version: 'v1', kind }, operation: 'UPDATE', object: { apiVersion: group ? `${group}/v1` : 'v1', kind, spec } },
  });

  it('allows a SpinApp whose spec.image is signed as the policy says, naming its digest', async () => {
    const answer = await answerTo(spinAppReview('uid-spin-signed', `${repository}:v1`));
    expect(answer.response).toEqual({ uid: 'uid-spin-signed', allowed: true, warnings: [`${repository}:v1 is ${repository}@${digest}`] });
  });

  it('denies a SpinApp whose spec.image is not signed, by digest too', async () => {
    const answer = await answerTo(spinAppReview('uid-spin-unsigned', `${repository}@${unsignedDigest}`));
    expect(answer.response).toEqual({
      uid: 'uid-spin-unsigned',
      allowed: false,
      status: { code: 403, message: expect.stringMatching(new RegExp(`^${escape(`${repository}@${unsignedDigest}`)}: NO_SIGNATURES: [^\n]*$`)) },
    });
  });

  it('judges the images of initContainers and ephemeralContainers of a Pod too', async () => {
    const spec = (ephemeral: string) => ({
      initContainers: [{ name: 'init', image: `${repository}@${digest}` }],
      containers: [{ name: 'app', image: `${repository}:v1` }],
      ephemeralContainers: [{ name: 'debug', image: ephemeral }],
    });
    const allowed = await answerTo(workloadReview('uid-pod-lists', '', 'Pod', spec(`${repository}@${digest}`)));
    expect(allowed.response).toEqual({ uid: 'uid-pod-lists', allowed: true, warnings: [`${repository}:v1 is ${repository}@${digest}`] });
    const denied = await answerTo(workloadReview('uid-pod-debug', '', 'Pod', spec(`${repository}:unsigned`)));
    expect(denied.response.allowed).toBe(false);
    expect(denied.response.status!.message.split('\n')).toEqual([expect.stringMatching(new RegExp(`^${escape(`${repository}:unsigned`)}: NO_SIGNATURES: `))]);
  });

  it("judges a Deployment's and a CronJob's pod templates", async () => {
    const template = (image: string) => ({ template: { spec: { containers: [{ name: 'app', image }] } } });
    const deployment = await answerTo(workloadReview('uid-deploy', 'apps', 'Deployment', { replicas: 3, ...template(`${repository}:unsigned`) }));
    expect(deployment.response).toMatchObject({ uid: 'uid-deploy', allowed: false, status: { code: 403, message: expect.stringMatching(/: NO_SIGNATURES: /) } });
    const cronJob = await answerTo(workloadReview('uid-cron', 'batch', 'CronJob', { schedule: '0 * * * *', jobTemplate: { spec: template(`${repository}@${digest}`) } }));
    expect(cronJob.response).toEqual({ uid: 'uid-cron', allowed: true });
  });

  it('allows other kinds untouched', async () => {
    const answer = await answerTo(workloadReview('uid-service', '', 'Service', { ports: [{ port: 80 }] }));
    expect(answer.response).toEqual({ uid: 'uid-service', allowed: true });
  });

  it('refuses a malformed review with 400 INVALID_ADMISSION_REVIEW', async () => {
    const noUid = podReview('x', []);
    delete (noUid.request as Partial<typeof noUid.request>).uid;
    const response = await review(noUid);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await response.json()).toMatchObject({ code: 'INVALID_ADMISSION_REVIEW', detail: 'request.uid must be a non-empty string' });
    const spinApp = await review(spinAppReview('uid-spin-bad', ''));
    expect(spinApp.status).toBe(400);
    expect(await spinApp.json()).toMatchObject({ code: 'INVALID_ADMISSION_REVIEW', detail: 'request.object.spec.image must be a non-empty string' });
  });

  describe('when ADMISSION_POLICY_FILE changes while the service runs', () => {
    interface Readiness {
      status: string;
      details: Record<string, { status: string; file?: string; inForce?: { sha256: string; rules: number }; rejected?: { problems: string[]; note: string } }>;
    }
    const readiness = async () => {
      const response = await service.fetch('/health/ready');
      return { status: response.status, body: (await response.json()) as Readiness };
    };
    const metric = async (name: string) => {
      const text = await (await service.fetch('/metrics')).text();
      return text.split('\n').filter((line) => line.startsWith(name));
    };
    /** Written as a ConfigMap update is seen by the process: a new file renamed over the old one. */
    const writePolicy = (text: string) => {
      writeFileSync(`${policyFile}.tmp`, text);
      renameSync(`${policyFile}.tmp`, policyFile);
    };
    const signedReview = (uid: string) => answerTo(podReview(uid, [`${repository}:v1`]));

    afterAll(() => writePolicy(initialPolicy));

    it('judges by the new policy, never by a verdict of the old one; keeps the last good policy when the file turns bad; picks up the fix', async () => {
      expect((await signedReview('uid-reload-0')).response.allowed).toBe(true); // the verdict under the first policy is cached now

      // Another identity for the same pattern: the same image, verdict cached under the old rule, is now denied.
      writePolicy(JSON.stringify({ images: [signedBy('https://example.com/someone-else')] }));
      const denied = await eventually(async () => {
        const answer = await signedReview('uid-reload-1');
        return answer.response.allowed ? undefined : answer;
      });
      expect(denied.response.status!.message).toMatch(new RegExp(`^${escape(`${repository}:v1`)}: NO_VERIFIED_SIGNATURE: .*${digest}`));

      // Not valid: the last good policy (the one that denies) stays in force, and readiness says why.
      writePolicy(JSON.stringify({ images: [{ pattern: `${registryHost}/e2e-admission/**`, policy: { certificateIdentity: identity } }] }));
      const rejected = await eventually(async () => {
        const current = await readiness();
        return current.body.details['admission-policy']?.rejected ? current : undefined;
      });
      expect(rejected.status).toBe(200);
      expect(rejected.body.details['admission-policy']).toMatchObject({
        status: 'up',
        file: policyFile,
        inForce: { rules: 1 },
        rejected: { problems: [expect.stringContaining('images[0].policy: INVALID_POLICY: policy.certificateOidcIssuer')], note: 'the last good policy stays in force' },
      });
      expect(await metric('wasm_signer_admission_policy_rejected ')).toEqual(['wasm_signer_admission_policy_rejected 1']);
      expect(await metric('wasm_signer_admission_policy_reloads_total{outcome="rejected"}')).toEqual(['wasm_signer_admission_policy_reloads_total{outcome="rejected"} 1']);
      expect((await signedReview('uid-reload-2')).response.allowed).toBe(false);
      expect(service.logs).toContain('admission policy file rejected; the last good policy stays in force');

      // Fixed (and now covering another repository only): picked up, the rejection gone, the image now outside the policy.
      writePolicy(JSON.stringify({ images: [{ ...signedBy(identity), pattern: `${registryHost}/elsewhere/**` }] }));
      const outside = await eventually(async () => {
        const answer = await signedReview('uid-reload-3');
        return answer.response.allowed ? answer : undefined;
      });
      expect(outside.response.warnings).toEqual([`${repository}:v1: no admission policy pattern covers ${repository}; admitted without verification`]);
      const fixed = await readiness();
      expect(fixed.body.details['admission-policy']!.rejected).toBeUndefined();
      expect(await metric('wasm_signer_admission_policy_rejected ')).toEqual(['wasm_signer_admission_policy_rejected 0']);
      expect(await metric('wasm_signer_admission_policy_reloads_total{outcome="applied"}')).toEqual(['wasm_signer_admission_policy_reloads_total{outcome="applied"} 2']);
    });
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

/** Polls until check returns something (at most 15 s): a reload is seen within the 1 s check interval. */
async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
