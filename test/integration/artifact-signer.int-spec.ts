import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SignatureRow } from '../../src/database/database.types';
import { NamedLocks } from '../../src/database/named-lock';
import type { SignJobInput } from '../../src/pipeline/job-catalogue';
import { JobsRepository } from '../../src/pipeline/jobs.repository';
import { OCI_MANIFEST_MEDIA_TYPE, sha256Digest } from '../../src/registry/oci-media-types';
import { type OciRepository, parseRepository } from '../../src/registry/oci-reference';
import { RegistryClient } from '../../src/registry/registry-client';
import { ArtifactSigner, type SigningTarget } from '../../src/signing/artifact-signer';
import { COSIGN_ANNOTATIONS } from '../../src/signature-formats/cosign-classic-signature';
import { SignatureRecords } from '../../src/signing/signature-records.repository';
import { resolveSigningEndpoints } from '../../src/sigstore/signing-endpoints';
import { identityTokenSource } from '../../src/signing/signing.module';
import { SigstoreSigner } from '../../src/signing/sigstore-signer';
import { RekorClient } from '../../src/sigstore/rekor-client';
import { OwnSignatureVerifier } from '../../src/sigstore/own-signature-verifier';
import { TrustRoots } from '../../src/verification/trust-roots';
import { RegistryReader } from '../support/registry-http';
import { REPO_ROOT } from '../support/test-environment';
import { type Integration, startIntegration } from './support/integration-env';

const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));

/**
 * ArtifactSigner for real: keyless signatures from the local Sigstore stack (Fulcio, Rekor, TSA),
 * checked against its trusted root, recorded in PostgreSQL and attached to a manifest in the local
 * registry, in both formats. Built by hand from the classes the signing module wires.
 */
describe('ArtifactSigner (local Sigstore stack, registry, PostgreSQL)', () => {
  let it_: Integration;
  let dataDir: string;
  let registryClient: RegistryClient;
  let sigstore: SigstoreSigner;
  let records: SignatureRecords;
  let jobs: JobsRepository;
  let makeSigner: (registry?: RegistryClient) => ArtifactSigner;
  let reader: RegistryReader;
  let repo: OciRepository;
  let path: string;
  let manifest: { digest: string; size: number };
  const calls = { message: 0, statement: 0 };
  const signCalls = () => ({ ...calls });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'wasm-signer-int-'));
    it_ = await startIntegration({ DATA_DIR: dataDir, SIGNATURE_FORMATS: 'cosign-classic,sigstore-bundle' });
    const { config } = it_;
    registryClient = new RegistryClient({ insecureHosts: config.registry.insecureHosts, userAgent: 'wasm-signer-integration', requestTimeoutMs: config.registry.timeoutMs });
    const endpoints = resolveSigningEndpoints(config.signing);
    sigstore = new SigstoreSigner(endpoints, identityTokenSource(config.identity));
    // Counted, not replaced: each call still goes to Fulcio, Rekor and the TSA.
    const session = sigstore.session.bind(sigstore);
    jest.spyOn(sigstore, 'session').mockImplementation(() => {
      const real = session();
      return {
        signMessage: (payload) => ((calls.message += 1), real.signMessage(payload)),
        signStatement: (statement) => ((calls.statement += 1), real.signStatement(statement)),
      };
    });
    records = new SignatureRecords(it_.database);
    jobs = new JobsRepository(it_.database);
    const verifier = new OwnSignatureVerifier(new TrustRoots({ dataDir, defaultFile: config.signing.trustedRootFile }).defaultRoot);
    const rekor = new RekorClient(endpoints.rekorUrl);
    const locks = new NamedLocks(it_.database);
    makeSigner = (registry = registryClient) => new ArtifactSigner(config.signing.formats, sigstore, records, registry, verifier, rekor, locks);

    // An artifact in the registry: the component as its layer, a wasm config, a manifest by digest.
    const registryHost = it_.env.stackEnv.LOCAL_REGISTRY!;
    reader = new RegistryReader(registryHost);
    path = `int/signer-${randomUUID().slice(0, 12)}`;
    repo = parseRepository(`${registryHost}/${path}`);
    const configBytes = Buffer.from(JSON.stringify({ architecture: 'wasm', os: 'wasip2', layerDigests: [sha256Digest(component)] }));
    const manifestBytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST_MEDIA_TYPE,
        artifactType: 'application/wasm',
        config: { mediaType: 'application/vnd.wasm.config.v0+json', digest: sha256Digest(configBytes), size: configBytes.length },
        layers: [{ mediaType: 'application/wasm', digest: sha256Digest(component), size: component.length }],
      }),
    );
    await registryClient.pushBlob(repo, sha256Digest(component), component);
    await registryClient.pushBlob(repo, sha256Digest(configBytes), configBytes);
    const pushed = await registryClient.putManifest(repo, sha256Digest(manifestBytes), OCI_MANIFEST_MEDIA_TYPE, manifestBytes);
    manifest = { digest: pushed.digest, size: manifestBytes.length };
  });

  afterAll(async () => {
    await it_?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** A sign job recorded for the pushed manifest, and the target the sign step makes of it. */
  async function signJob(): Promise<SigningTarget> {
    const input: SignJobInput = {
      reference: `${repo.registry}/${path}@${manifest.digest}`,
      repository: `${repo.registry}/${path}`,
      tag: null,
      manifestDigest: manifest.digest,
      manifestMediaType: OCI_MANIFEST_MEDIA_TYPE,
      manifestSize: manifest.size,
      wasmDigest: sha256Digest(component),
    };
    const { job } = await jobs.create({ type: 'sign', input });
    return {
      jobId: job.id,
      repository: repo,
      reference: input.reference,
      manifestDigest: manifest.digest,
      manifestMediaType: OCI_MANIFEST_MEDIA_TYPE,
      manifestSize: manifest.size,
      wasmDigest: input.wasmDigest,
      artifactId: null,
      caller: null,
      requestedBy: null,
    };
  }

  /** Rekor log indices of the signatures attached in the registry, per format, as a consumer finds them. */
  async function attached(): Promise<{ classic: number[]; bundle: number[] }> {
    const sig = await reader.manifest(path, `${manifest.digest.replace(':', '-')}.sig`);
    const classic =
      sig.status === 200
        ? (sig.json!.layers as { annotations: Record<string, string> }[]).map((l) => JSON.parse(l.annotations[COSIGN_ANNOTATIONS.bundle]!).Payload.logIndex as number)
        : [];
    const index = await reader.manifest(path, manifest.digest.replace(':', '-'));
    const bundle: number[] = [];
    for (const entry of index.status === 200 ? (index.json!.manifests as { artifactType?: string; digest: string }[]) : []) {
      if (entry.artifactType !== BUNDLE_MEDIA_TYPE) continue;
      const referrer = await reader.manifest(path, entry.digest);
      expect(referrer.json!.subject).toMatchObject({ digest: manifest.digest, size: manifest.size });
      const blob = await reader.blob(path, referrer.json!.layers[0].digest as string);
      bundle.push(Number(JSON.parse(blob!.toString('utf8')).verificationMaterial.tlogEntries[0].logIndex));
    }
    return { classic: classic.sort(), bundle: bundle.sort() };
  }

  const indices = (rows: SignatureRow[], format: SignatureRow['format']) => rows.filter((r) => r.format === format).map((r) => r.rekor_log_index);
  const allRows = () =>
    it_.scratch.query<{ job_id: string; format: string; rekor_log_index: number }>('select job_id, format, rekor_log_index from signatures order by rekor_log_index');

  let first: { target: SigningTarget; rows: SignatureRow[] };

  it('signs a pushed artifact: one record per format, each attached where cosign looks', async () => {
    const target = await signJob();
    const rows = await makeSigner().sign(target);
    first = { target, rows };

    expect(rows.map((r) => r.format)).toEqual(['cosign-classic', 'sigstore-bundle']);
    expect(signCalls()).toEqual({ message: 1, statement: 1 });
    for (const row of rows) {
      expect(row).toMatchObject({
        job_id: target.jobId,
        manifest_digest: manifest.digest,
        repository: `${repo.registry}/${path}`,
        identity: it_.env.stackEnv.LOCAL_CERTIFICATE_IDENTITY,
        issuer: it_.env.stackEnv.LOCAL_OIDC_ISSUER_URL,
      });
      // The entry UUID as Rekor names it (tree ID + leaf hash), asked of Rekor.
      expect(row.rekor_entry_uuid).toMatch(/^[0-9a-f]{80}$/);
    }
    expect((await allRows()).map((r) => [r.job_id, r.format])).toEqual([
      [target.jobId, 'cosign-classic'],
      [target.jobId, 'sigstore-bundle'],
    ]);
    expect(await attached()).toEqual({ classic: indices(rows, 'cosign-classic'), bundle: indices(rows, 'sigstore-bundle') });
  });

  it('a second sign of the same manifest appends: both signatures of each format are there', async () => {
    const target = await signJob();
    const rows = await makeSigner().sign(target);

    expect(signCalls()).toEqual({ message: 2, statement: 2 });
    expect(await allRows()).toHaveLength(4);
    expect(await attached()).toEqual({
      classic: [...indices(first.rows, 'cosign-classic'), ...indices(rows, 'cosign-classic')].sort(),
      bundle: [...indices(first.rows, 'sigstore-bundle'), ...indices(rows, 'sigstore-bundle')].sort(),
    });
  });

  it('a re-run of a job whose signatures are recorded signs nothing new and attaches nothing twice', async () => {
    const before = await attached();
    const rows = await makeSigner().sign(first.target);

    expect(signCalls()).toEqual({ message: 2, statement: 2 });
    expect(rows.map((r) => r.id)).toEqual(first.rows.map((r) => r.id));
    expect(await allRows()).toHaveLength(4);
    expect(await attached()).toEqual(before);
  });

  it('a re-run after a crash between recording and attaching attaches the recorded signatures without signing again', async () => {
    const target = await signJob();
    // The worker "dies" at its first manifest write: the classic signature is recorded by then, its
    // attach never happens, and the step ends before the bundle is signed.
    const crashing = new Proxy(registryClient, {
      get: (client, name: keyof RegistryClient) =>
        name === 'putManifest'
          ? async () => {
              throw new Error('worker killed');
            }
          : typeof client[name] === 'function'
            ? (client[name] as (...args: unknown[]) => unknown).bind(client)
            : client[name],
    });
    await expect(makeSigner(crashing).sign(target)).rejects.toThrow('worker killed');
    const recorded = await records.findForJob(target.jobId);
    expect(recorded.map((r) => r.format)).toEqual(['cosign-classic']);
    expect(signCalls()).toEqual({ message: 3, statement: 2 });
    const before = await attached();
    expect(before.classic).not.toContain(recorded[0]!.rekor_log_index);

    const rows = await makeSigner().sign(target);
    // The classic signature is the recorded one, not a new one; only the bundle is signed now.
    expect(signCalls()).toEqual({ message: 3, statement: 3 });
    expect(rows[0]!.id).toBe(recorded[0]!.id);
    expect(await records.findForJob(target.jobId)).toHaveLength(2);
    expect(await attached()).toEqual({
      classic: [...before.classic, recorded[0]!.rekor_log_index].sort(),
      bundle: [...before.bundle, rows[1]!.rekor_log_index].sort(),
    });
  });
});
