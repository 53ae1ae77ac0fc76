import { createHash, generateKeyPairSync, verify, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fulcioHandler, type HandlerFn, initializeCA, initializeTLog, initializeTSA, rekorHandler, tsaHandler } from '@sigstore/mock';
import { FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, TSAWitness, type Witness } from '@sigstore/sign';
import type { Bundle } from '@sigstore/bundle';

import { certificateIdentity } from '../x509/certificate-identity';
import { appendSignatureLayer, COSIGN_ANNOTATIONS, cosignLayerAnnotations, cosignPayload } from './cosign-classic-signature';

/**
 * The classic-signature annotations made from a bundle that sigstore-js really built: a keyless
 * signature over the cosign payload, certificate from a Fulcio, SET from a Rekor v1 and a timestamp
 * from a TSA (the in-process fakes of @sigstore/mock, served on loopback). What cosign verify checks
 * is checked here against the annotations.
 */

const b64url = (text: string): string => Buffer.from(text).toString('base64url');
const ISSUER = 'https://oidc.local.example';
const SUBJECT = 'https://kubernetes.io/namespaces/apps/serviceaccounts/signer';
const TOKEN = `${b64url('{"alg":"RS256"}')}.${b64url(JSON.stringify({ iss: ISSUER, sub: SUBJECT, aud: 'sigstore', exp: 4102444800 }))}.${b64url('sig')}`;

const MANIFEST_DIGEST = `sha256:${'5'.repeat(64)}`;
const REFERENCE = '127.0.0.1:5000/apps/hello-http';

describe('cosign classic annotations from a sigstore-js bundle', () => {
  let server: Server;
  let baseUrl: string;
  const rekorKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let payload: Buffer;
  let bundle: Bundle;
  let annotations: Record<string, string>;

  beforeAll(async () => {
    const routes = new Map<string, HandlerFn>();
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const handler = routes.get(new URL(req.url ?? '/', 'http://x').pathname);
        if (!handler) {
          res.writeHead(404).end();
          return;
        }
        void handler(Buffer.concat(chunks).toString('utf8')).then(({ statusCode, response, contentType }) => {
          res.writeHead(statusCode, { 'content-type': contentType ?? 'text/plain' });
          res.end(typeof response === 'string' ? response : Buffer.from(response.buffer, response.byteOffset, response.byteLength));
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const fulcio = fulcioHandler(await initializeCA(generateKeyPairSync('ec', { namedCurve: 'P-256' })));
    const rekor = rekorHandler(await initializeTLog(baseUrl, rekorKeys));
    const tsa = tsaHandler(await initializeTSA(generateKeyPairSync('ec', { namedCurve: 'P-256' })));
    for (const handler of [fulcio, rekor, tsa]) routes.set(handler.path, handler.fn);

    payload = cosignPayload({ dockerReference: REFERENCE, manifestDigest: MANIFEST_DIGEST, annotations: { build: '7' } });
    const options = { timeout: 5_000, retry: { retries: 0 } };
    const witnesses: Witness[] = [new RekorWitness({ rekorBaseURL: baseUrl, majorApiVersion: 1, ...options }), new TSAWitness({ tsaBaseURL: baseUrl, ...options })];
    const signer = new FulcioSigner({ fulcioBaseURL: baseUrl, identityProvider: { getToken: async () => TOKEN }, ...options });
    bundle = await new MessageSignatureBundleBuilder({ signer, witnesses }).create({ data: payload });
    annotations = cosignLayerAnnotations(bundle);
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('has the signature, the Fulcio certificate, an empty chain, the Rekor bundle and the timestamp', () => {
    expect(Object.keys(annotations)).toEqual([
      'dev.cosignproject.cosign/signature',
      'dev.sigstore.cosign/bundle',
      'dev.sigstore.cosign/certificate',
      'dev.sigstore.cosign/chain',
      'dev.sigstore.cosign/rfc3161timestamp',
    ]);
    expect(annotations[COSIGN_ANNOTATIONS.chain]).toBe('');
  });

  it('signature verifies over the payload bytes with the certificate, which names the workload and issuer', () => {
    const certificate = new NodeX509Certificate(annotations[COSIGN_ANNOTATIONS.certificate]!);
    const signature = Buffer.from(annotations[COSIGN_ANNOTATIONS.signature]!, 'base64');
    expect(verify('sha256', payload, certificate.publicKey, signature)).toBe(true);
    expect(certificateIdentity(certificate.raw)).toMatchObject({ identity: SUBJECT, issuer: ISSUER });
  });

  it('bundle annotation: the SET verifies with the Rekor key over the canonical entry, logID is the key hash', () => {
    const rekorBundle = JSON.parse(annotations[COSIGN_ANNOTATIONS.bundle]!) as {
      SignedEntryTimestamp: string;
      Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
    };
    expect(Object.keys(rekorBundle)).toEqual(['SignedEntryTimestamp', 'Payload']);
    expect(Object.keys(rekorBundle.Payload)).toEqual(['body', 'integratedTime', 'logIndex', 'logID']);

    const rekorKeyDer = rekorKeys.publicKey.export({ format: 'der', type: 'spki' });
    expect(rekorBundle.Payload.logID).toBe(createHash('sha256').update(rekorKeyDer).digest('hex'));

    const entry = bundle.verificationMaterial.tlogEntries[0]!;
    expect(rekorBundle.Payload.integratedTime).toBe(Number(entry.integratedTime));
    expect(rekorBundle.Payload.logIndex).toBe(Number(entry.logIndex));

    // RFC 8785 canonical form of {body, integratedTime, logID, logIndex}: keys sorted, no spaces.
    const { body, integratedTime, logID, logIndex } = rekorBundle.Payload;
    const canonical = JSON.stringify({ body, integratedTime, logID, logIndex });
    const set = Buffer.from(rekorBundle.SignedEntryTimestamp, 'base64');
    expect(verify('sha256', Buffer.from(canonical), rekorKeys.publicKey, set)).toBe(true);
  });

  it('bundle annotation: the hashedrekord body matches the payload hash, signature and certificate', () => {
    const rekorBundle = JSON.parse(annotations[COSIGN_ANNOTATIONS.bundle]!) as { Payload: { body: string } };
    const body = JSON.parse(Buffer.from(rekorBundle.Payload.body, 'base64').toString('utf8')) as {
      kind: string;
      apiVersion: string;
      spec: { data: { hash: { algorithm: string; value: string } }; signature: { content: string; publicKey: { content: string } } };
    };
    expect(body.kind).toBe('hashedrekord');
    expect(body.apiVersion).toBe('0.0.1');
    expect(body.spec.data.hash).toEqual({ algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') });
    expect(body.spec.signature.content).toBe(annotations[COSIGN_ANNOTATIONS.signature]);
    const loggedCertificate = new NodeX509Certificate(Buffer.from(body.spec.signature.publicKey.content, 'base64'));
    expect(loggedCertificate.raw.equals(new NodeX509Certificate(annotations[COSIGN_ANNOTATIONS.certificate]!).raw)).toBe(true);
  });

  it('timestamp annotation holds the TSA response from the bundle', () => {
    const timestamp = JSON.parse(annotations[COSIGN_ANNOTATIONS.rfc3161Timestamp]!) as { SignedRFC3161Timestamp: string };
    expect(Object.keys(timestamp)).toEqual(['SignedRFC3161Timestamp']);
    const der = Buffer.from(timestamp.SignedRFC3161Timestamp, 'base64');
    expect(der.equals(bundle.verificationMaterial.timestampVerificationData!.rfc3161Timestamps[0]!.signedTimestamp)).toBe(true);
    expect(der[0]).toBe(0x30); // a DER SEQUENCE (CMS ContentInfo)
  });

  it('goes into a signature image whose layer is the payload', () => {
    const image = appendSignatureLayer(undefined, { payload, annotations });
    const manifest = JSON.parse(image.manifest.toString('utf8')) as { layers: { digest: string; size: number; annotations: Record<string, string> }[] };
    expect(manifest.layers).toEqual([expect.objectContaining({ digest: `sha256:${createHash('sha256').update(payload).digest('hex')}`, size: payload.length, annotations })]);
  });
});
