import { X509Certificate, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalStackHandle } from '../dev/stack/ensure-local-stack';
import { finishedJob, type JobView } from './support/jobs';
import { startPrivateStack } from './support/private-stack';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const FULCIO_SIGNING_CERT = 'POST /api/v2/signingCert';
const REKOR_ENTRIES = 'POST /api/v1/log/entries';

/**
 * SIGNING_CERTIFICATE_SCOPE end to end: a published artifact's two signatures (the cosign classic `.sig`
 * and the Sigstore bundle referrer), as a consumer reads them from the registry, carry one Fulcio
 * certificate by default and two with `signature`; both verify either way. Against a Sigstore stack of
 * this file's own, whose request counts (GET /__requests) show the Fulcio and Rekor calls per artifact.
 */
describe('one Fulcio certificate per job (SIGNING_CERTIFICATE_SCOPE)', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryReader(registryHost);
  let stack: LocalStackHandle;

  beforeAll(async () => {
    stack = await startPrivateStack();
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const requestCounts = async (url: string): Promise<Record<string, number>> =>
    ((await (await fetch(`${new URL(url).origin}/__requests`)).json()) as { requests: Record<string, number> }).requests;
  const sigstoreCalls = async () => ({
    fulcio: (await requestCounts(stack.env.SIGSTORE_FULCIO_URL!))[FULCIO_SIGNING_CERT] ?? 0,
    rekor: (await requestCounts(stack.env.SIGSTORE_REKOR_URL!))[REKOR_ENTRIES] ?? 0,
  });

  /** The leaf certificates of the manifest's signatures, as cosign finds them in the registry. */
  async function attachedCertificates(repository: string, digest: string): Promise<{ classic: X509Certificate; bundle: X509Certificate }> {
    const path = repository.slice(registryHost.length + 1);
    const sig = await registry.manifest(path, `${digest.replace(':', '-')}.sig`);
    expect(sig.status).toBe(200);
    expect(sig.json!.layers).toHaveLength(1);
    const classic = new X509Certificate(sig.json!.layers[0].annotations['dev.sigstore.cosign/certificate'] as string);

    const index = await registry.manifest(path, digest.replace(':', '-'));
    const referrers = (index.json!.manifests as { artifactType?: string; digest: string }[]).filter((m) => m.artifactType === BUNDLE_MEDIA_TYPE);
    expect(referrers).toHaveLength(1);
    const referrer = await registry.manifest(path, referrers[0]!.digest);
    const bundle = JSON.parse((await registry.blob(path, referrer.json!.layers[0].digest as string))!.toString('utf8'));
    const material = bundle.verificationMaterial;
    const der = material.certificate?.rawBytes ?? material.x509CertificateChain?.certificates[0].rawBytes;
    return { classic, bundle: new X509Certificate(Buffer.from(der as string, 'base64')) };
  }

  describe.each<{ scope: string; extra: Record<string, string>; fulcioCalls: number }>([
    { scope: 'job (the default)', extra: {}, fulcioCalls: 1 },
    { scope: 'signature', extra: { SIGNING_CERTIFICATE_SCOPE: 'signature' }, fulcioCalls: 2 },
  ])('scope $scope', ({ extra, fulcioCalls }) => {
    let database: TestDatabase;
    let service: ServiceProcess;
    let repository: string;
    let job: JobView;
    let calls: { fulcio: number; rekor: number };

    beforeAll(async () => {
      database = await TestDatabase.create(env.postgresServerUrl);
      // The shared registry; Fulcio, Rekor, the TSA and the identity token are this file's stack's.
      service = await ServiceProcess.start(testServiceEnv(database.url, 'certificate-scope', { ...stack.env, ...extra }));
      repository = `${registryHost}/e2e/cert-scope-${randomUUID().slice(0, 12)}`;
      const before = await sigstoreCalls();
      const response = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
        method: 'POST',
        headers: { 'content-type': 'application/wasm' },
        body: component,
      });
      expect(response.status).toBe(202);
      job = await finishedJob(service, ((await response.json()) as JobView).id, 90_000);
      const after = await sigstoreCalls();
      calls = { fulcio: after.fulcio - before.fulcio, rekor: after.rekor - before.rekor };
    }, 180_000);

    afterAll(async () => {
      await service?.stop('SIGTERM');
      await database?.drop();
    });

    it('publishes and signs in both formats', () => {
      expect(job.error).toBeNull();
      expect(job.state).toBe('succeeded');
      expect(job.result!.signatures.map((s: { format: string }) => s.format).sort()).toEqual(['cosign-classic', 'sigstore-bundle']);
    });

    it(`asks Fulcio ${fulcioCalls === 1 ? 'once' : 'twice'} for the artifact, and Rekor once per signature`, () => {
      expect(calls).toEqual({ fulcio: fulcioCalls, rekor: 2 });
    });

    it(`attaches signatures that carry ${fulcioCalls === 1 ? 'the same' : 'different'} leaf certificate${fulcioCalls === 1 ? '' : 's'}, naming the service's identity`, async () => {
      const { classic, bundle } = await attachedCertificates(repository, job.result!.manifestDigest as string);
      expect(classic.subjectAltName).toBe(`URI:${stack.env.LOCAL_CERTIFICATE_IDENTITY}`);
      expect(bundle.subjectAltName).toBe(classic.subjectAltName);
      if (fulcioCalls === 1) {
        expect(bundle.raw.equals(classic.raw)).toBe(true);
      } else {
        expect(bundle.raw.equals(classic.raw)).toBe(false);
        expect(bundle.publicKey.equals(classic.publicKey)).toBe(false);
      }
      // The signature records name the same certificates as the registry.
      const records = await Promise.all(
        job.result!.signatures.map(async (s: { id: string; format: string }) => {
          const response = await service.fetch(`/v1/signatures/${s.id}`);
          expect(response.status).toBe(200);
          return { format: s.format, pem: ((await response.json()) as { certificate: { pem: string } }).certificate.pem };
        }),
      );
      const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
      expect(Object.fromEntries(records.map((r) => [r.format, fingerprint(r.pem)]))).toEqual({
        'cosign-classic': classic.fingerprint256,
        'sigstore-bundle': bundle.fingerprint256,
      });
    });

    it('both signatures verify (POST /v1/verifications)', async () => {
      const response = await service.fetch('/v1/verifications', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          reference: `${repository}:v1`,
          policy: { certificateIdentity: stack.env.LOCAL_CERTIFICATE_IDENTITY, certificateOidcIssuer: stack.env.LOCAL_OIDC_ISSUER_URL },
          maxAge: 0,
        }),
      });
      expect(response.status).toBe(200);
      const verdict = (await response.json()) as { verified: boolean; signatures: { format: string; verified: boolean; error: unknown }[] };
      expect(verdict.verified).toBe(true);
      expect(verdict.signatures.map((s) => [s.format, s.verified, s.error]).sort()).toEqual([
        ['cosign-classic', true, null],
        ['sigstore-bundle', true, null],
      ]);
    });
  });
});
