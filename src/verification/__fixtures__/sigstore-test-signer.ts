import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleToJSON } from '@sigstore/bundle';
import { fulcioHandler, initializeCA, initializeCTLog } from '@sigstore/mock';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness } from '@sigstore/sign';
import type { TrustMaterial } from '@sigstore/verify';
import { RekorServer } from '../../../dev/stack/rekor-server';
import { OCI_MANIFEST_MEDIA_TYPE, type OciDescriptor } from '../../registry/oci-media-types';
import { referrerEntry } from '../../registry/referrers-tag-fallback';
import type { RegistryClient } from '../../registry/registry-client';
import { IN_TOTO_PAYLOAD_TYPE, bundleReferrerManifest } from '../../signature-formats/sigstore-bundle-referrer';
import { parseTrustedRoot, trustMaterialOf } from '../../sigstore/trusted-root';

/**
 * Keyless DSSE bundles made the way the service makes them, for unit tests, without the network: a
 * Fulcio with a CT log (@sigstore/mock, certifying whatever `sub` and `iss` the token names) and the
 * local stack's Rekor (dev/stack, which logs DSSE entries in Rekor's canonical form, as @sigstore/verify
 * requires), both on one loopback port; and the trust material that verifies what they sign.
 */
export class SigstoreTestSigner {
  private constructor(
    private readonly server: Server,
    private readonly rekor: RekorServer,
    private readonly dir: string,
    readonly baseUrl: string,
    readonly trustMaterial: TrustMaterial,
  ) {}

  static async start(): Promise<SigstoreTestSigner> {
    const routes: { fulcio?: ReturnType<typeof fulcioHandler>; rekor?: RekorServer } = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        const answer = async (): Promise<{ status: number; body: string }> => {
          if (routes.fulcio && path === routes.fulcio.path) {
            const { statusCode, response } = await routes.fulcio.fn(body);
            return { status: statusCode, body: typeof response === 'string' ? response : Buffer.from(response.buffer, response.byteOffset, response.byteLength).toString('utf8') };
          }
          if (routes.rekor && path === '/api/v1/log/entries' && req.method === 'POST') {
            const { uuid, entry } = await routes.rekor.createEntry(JSON.parse(body));
            return { status: 201, body: JSON.stringify({ [uuid]: entry }) };
          }
          return { status: 404, body: 'not found' };
        };
        answer().then(
          ({ status, body: text }) => res.writeHead(status, { 'content-type': 'application/json' }).end(text),
          (error: unknown) => res.writeHead(400, { 'content-type': 'text/plain' }).end(String(error)),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const ctLog = await initializeCTLog(generateKeyPairSync('ec', { namedCurve: 'P-256' }));
    const ca = await initializeCA(generateKeyPairSync('ec', { namedCurve: 'P-256' }), ctLog);
    const dir = await mkdtemp(join(tmpdir(), 'sigstore-test-signer-'));
    const rekor = await RekorServer.open({ dir, baseUrl });
    routes.fulcio = fulcioHandler(ca);
    routes.rekor = rekor;

    const start = new Date(Date.now() - 3_600_000).toISOString();
    const b64 = (bytes: ArrayBufferView) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    const log = (key: Buffer, keyId: Buffer) => ({
      baseUrl,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: key.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
      logId: { keyId: keyId.toString('base64') },
    });
    const trustedRoot = {
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [log(rekor.publicKeyDer, createHash('sha256').update(rekor.publicKeyDer).digest())],
      ctlogs: [log(ctLog.publicKey, Buffer.from(b64(ctLog.logID), 'base64'))],
      certificateAuthorities: [
        { subject: { organization: 'test', commonName: 'test-fulcio' }, uri: baseUrl, certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] }, validFor: { start } },
      ],
      timestampAuthorities: [],
    };
    return new SigstoreTestSigner(server, rekor, dir, baseUrl, trustMaterialOf(parseTrustedRoot(trustedRoot)));
  }

  /** A DSSE bundle (as its JSON document) over an in-toto statement, certified for `identity` by `issuer`. */
  async signStatement(statement: Buffer, identity: string, issuer: string): Promise<Record<string, unknown>> {
    const b64url = (text: string) => Buffer.from(text).toString('base64url');
    const token = `${b64url('{"alg":"RS256"}')}.${b64url(JSON.stringify({ iss: issuer, sub: identity, aud: 'sigstore', exp: 4102444800 }))}.${b64url('sig')}`;
    const options = { timeout: 5_000, retry: { retries: 0 } };
    const signer = new FulcioSigner({ fulcioBaseURL: this.baseUrl, identityProvider: { getToken: async () => token }, ...options });
    const witnesses = [new RekorWitness({ rekorBaseURL: this.baseUrl, majorApiVersion: 1, ...options })];
    const bundle = await new DSSEBundleBuilder({ signer, witnesses }).create({ data: statement, type: IN_TOTO_PAYLOAD_TYPE });
    return bundleToJSON(bundle) as unknown as Record<string, unknown>;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.rekor.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A registry (the reads discovery makes) holding `bundles` as Sigstore bundle referrers of `subject`:
 * each referrer manifest as bundleReferrerManifest writes it, listed by the descriptor the referrers
 * fallback index holds for it. No `.sig` signatures.
 */
export function registryWithBundleReferrers(subject: string, bundles: { bundle: unknown; predicateType?: string }[]): RegistryClient {
  const manifests = new Map<string, Buffer>();
  const blobs = new Map<string, Buffer>();
  const descriptors: OciDescriptor[] = bundles.map(({ bundle, predicateType }, i) => {
    const referrer = bundleReferrerManifest({
      bundleJson: Buffer.from(JSON.stringify(bundle)),
      subject: { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: subject, size: 500 },
      created: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
      predicateType,
    });
    manifests.set(referrer.manifestDigest, referrer.manifest);
    blobs.set(referrer.bundleDigest, referrer.bundleBlob);
    return referrerEntry(referrer.manifest, OCI_MANIFEST_MEDIA_TYPE)!.descriptor;
  });
  return {
    listReferrers: async (_repo: unknown, digest: string, options: { artifactType?: string } = {}) => ({
      index: { manifests: digest === subject ? descriptors.filter((d) => options.artifactType === undefined || d.artifactType === options.artifactType) : [] },
      source: 'tag-fallback',
    }),
    getManifest: async (_repo: unknown, reference: string) => (manifests.has(reference) ? { bytes: manifests.get(reference)! } : undefined),
    getBlob: async (_repo: unknown, digest: string) => blobs.get(digest),
  } as unknown as RegistryClient;
}
