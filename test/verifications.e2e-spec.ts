import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedJob, type JobView } from './support/jobs';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess, tempDir } from './support/service-process';
import { REPO_ROOT, testEnvironment } from './support/test-environment';

interface Verification {
  verified: boolean;
  reference: string;
  digest: string;
  signatures: { format: string; verified: boolean; identity: string | null; issuer: string | null; logIndex: number | null; error: { code: string; message: string } | null }[];
  error: { code: string } | null;
}

/** Verify before run: an artifact's signatures against identity policies, live from the registry. */
describe('POST /v1/verifications', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryReader(registryHost);
  const identity = env.stackEnv.LOCAL_CERTIFICATE_IDENTITY!;
  const issuer = env.stackEnv.LOCAL_OIDC_ISSUER_URL!;
  const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  const repository = `${registryHost}/e2e/verify-${randomUUID().slice(0, 8)}`;
  const path = repository.slice(registryHost.length + 1);
  let service: ServiceProcess;
  let digest: string;

  beforeAll(async () => {
    service = await ServiceProcess.start({ ...env.stackEnv, DATA_DIR: tempDir('verify'), REDIS_URL: env.redisUrl, QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}` });
    const response = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1&annotation.com.example.stage=prod`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    const job = await finishedJob(service, ((await response.json()) as JobView).id);
    expect(job.state).toBe('succeeded');
    digest = job.result!.manifestDigest;
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
  });

  // maxAge 0 where the registry was changed behind the service's back: verdicts are otherwise reused.
  const verify = async (reference: string, policy: Record<string, unknown>, maxAge?: number) => {
    const response = await service.fetch('/v1/verifications', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reference, policy, maxAge }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Verification;
  };

  it('verifies with the right identity and issuer, resolving the tag, both formats', async () => {
    const result = await verify(`${repository}:v1`, { certificateIdentity: identity, certificateOidcIssuer: issuer });
    expect(result).toMatchObject({ verified: true, digest, reference: `${repository}@${digest}`, error: null });
    expect(result.signatures.map((s) => [s.format, s.verified]).sort()).toEqual([
      ['cosign-classic', true],
      ['sigstore-bundle', true],
    ]);
    for (const signature of result.signatures) expect(signature).toMatchObject({ identity, issuer, logIndex: expect.any(Number), error: null });

    // An anchored regular expression that matches the whole identity.
    const byRegExp = await verify(`${repository}@${digest}`, {
      certificateIdentityRegExp: 'https://kubernetes\\.io/namespaces/wasm-signer/serviceaccounts/.+',
      certificateOidcIssuer: issuer,
    });
    expect(byRegExp.verified).toBe(true);
  });

  it.each([
    ['a wrong identity', { certificateIdentity: 'https://kubernetes.io/namespaces/other/serviceaccounts/signer', certificateOidcIssuer: issuer }, 'POLICY_IDENTITY_MISMATCH'],
    ['a wrong issuer', { certificateIdentity: identity, certificateOidcIssuer: 'https://token.actions.githubusercontent.com' }, 'POLICY_ISSUER_MISMATCH'],
    [
      'an identity regexp that only matches a prefix',
      { certificateIdentityRegExp: 'https://kubernetes\\.io/namespaces/wasm-signer', certificateOidcIssuer: issuer },
      'POLICY_IDENTITY_MISMATCH',
    ],
  ])('does not verify with %s, and says why', async (_case, policy, code) => {
    const result = await verify(`${repository}@${digest}`, policy);
    expect(result.verified).toBe(false);
    expect(result.error!.code).toBe('NO_VERIFIED_SIGNATURE');
    expect(result.signatures).toHaveLength(2);
    for (const signature of result.signatures) {
      expect(signature.verified).toBe(false);
      expect(signature.error!.code).toBe(code);
    }
  });

  it('requires the annotations the policy names', async () => {
    const good = await verify(`${repository}@${digest}`, { certificateIdentity: identity, certificateOidcIssuer: issuer, annotations: {} });
    expect(good.verified).toBe(true);
    const missing = await verify(`${repository}@${digest}`, { certificateIdentity: identity, certificateOidcIssuer: issuer, annotations: { 'com.example.stage': 'prod' } });
    expect(missing.verified).toBe(false);
    expect(missing.signatures.every((s) => s.error?.code === 'ANNOTATION_MISMATCH')).toBe(true);
  });

  it('answers NO_SIGNATURES for an unsigned artifact, and a .sig moved onto it does not verify', async () => {
    // Another manifest in the same repository, pushed directly: never signed.
    const original = await registry.manifest(path, digest);
    const other = JSON.parse(original.bytes!.toString('utf8'));
    other.annotations = { ...other.annotations, 'com.example.copy': 'unsigned' };
    const otherBytes = Buffer.from(JSON.stringify(other));
    const put = await fetch(`http://${registryHost}/v2/${path}/manifests/unsigned`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: otherBytes,
    });
    expect(put.status).toBe(201);
    const otherDigest = put.headers.get('docker-content-digest')!;

    const unsigned = await verify(`${repository}:unsigned`, { certificateIdentity: identity, certificateOidcIssuer: issuer });
    expect(unsigned).toMatchObject({ verified: false, digest: otherDigest, signatures: [], error: { code: 'NO_SIGNATURES' } });

    // Copy the signed artifact's .sig image to the unsigned one's .sig tag.
    const sig = await registry.manifest(path, `${digest.replace(':', '-')}.sig`);
    const moved = await fetch(`http://${registryHost}/v2/${path}/manifests/${otherDigest.replace(':', '-')}.sig`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: sig.bytes!,
    });
    expect(moved.status).toBe(201);
    const result = await verify(`${repository}@${otherDigest}`, { certificateIdentity: identity, certificateOidcIssuer: issuer }, 0);
    expect(result.verified).toBe(false);
    expect(result.signatures).toEqual([
      expect.objectContaining({ format: 'cosign-classic', verified: false, error: expect.objectContaining({ code: 'SIGNATURE_DIGEST_MISMATCH' }) }),
    ]);
  });

  it('does not verify a signature layer tampered with in the registry', async () => {
    const sigTag = `${digest.replace(':', '-')}.sig`;
    const sig = await registry.manifest(path, sigTag);
    const tampered = JSON.parse(sig.bytes!.toString('utf8'));
    const signature = Buffer.from(tampered.layers[0].annotations['dev.cosignproject.cosign/signature'], 'base64');
    signature[signature.length - 5] ^= 0xff;
    tampered.layers[0].annotations['dev.cosignproject.cosign/signature'] = signature.toString('base64');
    const put = await fetch(`http://${registryHost}/v2/${path}/manifests/${sigTag}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: JSON.stringify(tampered),
    });
    expect(put.status).toBe(201);

    const result = await verify(`${repository}@${digest}`, { certificateIdentity: identity, certificateOidcIssuer: issuer }, 0);
    const classic = result.signatures.find((s) => s.format === 'cosign-classic')!;
    expect(classic.verified).toBe(false);
    // The TSA timestamp over the signature, the signature itself or the Rekor entry: whichever check meets it first.
    expect(classic.error!.code).toMatch(/SIGNATURE|TLOG|TIMESTAMP/);
    // The untouched bundle still verifies.
    expect(result.signatures.find((s) => s.format === 'sigstore-bundle')!.verified).toBe(true);
  });

  it('can be queued as a verify job whose result is the answer', async () => {
    const response = await service.fetch('/v1/verifications', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reference: `${repository}:v1`, policy: { certificateIdentity: identity, certificateOidcIssuer: issuer }, async: true }),
    });
    expect(response.status).toBe(202);
    const accepted = (await response.json()) as JobView;
    expect(accepted).toMatchObject({ type: 'verify', state: 'queued' });
    const job = await finishedJob(service, accepted.id);
    expect(job.state).toBe('succeeded');
    expect(job.result).toMatchObject({ verified: true, digest, reference: `${repository}@${digest}` });
  });

  it('refuses a request it cannot read with a problem', async () => {
    const post = (body: unknown) => service.fetch('/v1/verifications', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const codeOf = async (response: Response) => ((await response.json()) as { code: string }).code;
    expect(await codeOf(await post({ reference: 'nope', policy: { certificateIdentity: identity, certificateOidcIssuer: issuer } }))).toBe('INVALID_REFERENCE');
    expect(await codeOf(await post({ reference: `${repository}@${digest}`, policy: { certificateIdentity: identity } }))).toBe('INVALID_POLICY');
    expect(await codeOf(await post({ reference: `${repository}@${digest}`, policy: { certificateIdentityRegExp: '(', certificateOidcIssuer: issuer } }))).toBe('INVALID_REGEXP');
    expect(await codeOf(await post({ reference: `${repository}:missing`, policy: { certificateIdentity: identity, certificateOidcIssuer: issuer } }))).toBe('MANIFEST_NOT_FOUND');
    const unknownRoot = await service.fetch('/v1/verifications', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reference: `${repository}@${digest}`, policy: { certificateIdentity: identity, certificateOidcIssuer: issuer }, trustRoot: 'nowhere' }),
    });
    expect(unknownRoot.status).toBe(422);
    expect(await codeOf(unknownRoot)).toBe('TRUST_ROOT_NOT_FOUND');
  });
});
