import 'reflect-metadata';
import { createHash, KeyObject, sign, verify, webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { type Bundle, bundleFromJSON } from '@sigstore/bundle';

import {
  appendSignatureLayer,
  COSIGN_ANNOTATIONS,
  cosignLayerAnnotations,
  cosignPayload,
  cosignSignatureTag,
  OCI_IMAGE_CONFIG_MEDIA_TYPE,
  parseSignatureManifest,
  SIMPLESIGNING_MEDIA_TYPE,
} from './cosign-classic-signature';
import { toPem } from '../x509/pem';

const sha256Hex = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

const MANIFEST_HEX = 'a'.repeat(63) + 'b';
const MANIFEST_DIGEST = `sha256:${MANIFEST_HEX}`;
const REFERENCE = 'registry.example/ns/comp';

describe('cosignSignatureTag', () => {
  it('is sha256-<hex>.sig for the signed manifest digest', () => {
    expect(cosignSignatureTag(MANIFEST_DIGEST)).toBe(`sha256-${MANIFEST_HEX}.sig`);
    expect(cosignSignatureTag('sha256:4260b4815cfe23cc5e941d33d8cb1caaeb6de4591ad76e98200f6215945eaf26')).toBe(
      'sha256-4260b4815cfe23cc5e941d33d8cb1caaeb6de4591ad76e98200f6215945eaf26.sig',
    );
  });
});

describe('cosignPayload', () => {
  it('writes the simple-signing payload byte for byte, optional null without annotations', () => {
    const golden =
      '{"critical":{"identity":{"docker-reference":"registry.example/ns/comp"},' +
      `"image":{"docker-manifest-digest":"sha256:${MANIFEST_HEX}"},` +
      '"type":"cosign container image signature"},"optional":null}';
    expect(cosignPayload({ dockerReference: REFERENCE, manifestDigest: MANIFEST_DIGEST }).toString('utf8')).toBe(golden);
    // An empty map is the same as none.
    expect(cosignPayload({ dockerReference: REFERENCE, manifestDigest: MANIFEST_DIGEST, annotations: {} }).toString('utf8')).toBe(golden);
  });

  it('writes annotations as the optional map, keys sorted as Go marshals them', () => {
    const payload = cosignPayload({
      dockerReference: 'localhost:5000/team/hello-http',
      manifestDigest: MANIFEST_DIGEST,
      annotations: { 'org.example.z': 'last', build: '42', 'Org.Upper': 'U', 'org.example.a': 'first' },
    });
    expect(payload.toString('utf8')).toBe(
      '{"critical":{"identity":{"docker-reference":"localhost:5000/team/hello-http"},' +
        `"image":{"docker-manifest-digest":"sha256:${MANIFEST_HEX}"},` +
        '"type":"cosign container image signature"},' +
        '"optional":{"Org.Upper":"U","build":"42","org.example.a":"first","org.example.z":"last"}}',
    );
  });

  it('escapes annotation values as JSON strings', () => {
    const payload = cosignPayload({ dockerReference: REFERENCE, manifestDigest: MANIFEST_DIGEST, annotations: { note: 'say "hi"\n' } });
    expect(payload.toString('utf8')).toContain('"optional":{"note":"say \\"hi\\"\\n"}}');
    expect(JSON.parse(payload.toString('utf8')).optional).toEqual({ note: 'say "hi"\n' });
  });
});

/** A leaf certificate shaped like Fulcio's (short-lived, SAN URI, issuer extension) with its private key. */
async function fulcioStyleLeaf(): Promise<{ der: Buffer; privateKey: KeyObject }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const issuerUtf8 = Buffer.from('https://issuer.example');
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '0a1b2c',
    name: 'O=sigstore.dev',
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2026-01-01T00:10:00Z'),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: 'https://kubernetes.io/namespaces/apps/serviceaccounts/signer' }], true),
      new x509.Extension('1.3.6.1.4.1.57264.1.8', false, Buffer.concat([Buffer.from([0x0c, issuerUtf8.length]), issuerUtf8])),
    ],
  });
  return { der: Buffer.from(certificate.rawData), privateKey: KeyObject.from(keys.privateKey) };
}

interface BundleParts {
  certificate: Buffer;
  signature: Buffer;
  payload: Buffer;
  body: Buffer;
  set: Buffer;
  logKeyId: Buffer;
  rfc3161?: Buffer;
  chain?: boolean;
}

/** A message-signature bundle as sigstore-js serialises it (v0.3, single certificate). */
function messageSignatureBundle(parts: BundleParts): Bundle {
  const b64 = (bytes: Buffer) => bytes.toString('base64');
  const certificateMaterial = parts.chain
    ? { x509CertificateChain: { certificates: [{ rawBytes: b64(parts.certificate) }, { rawBytes: b64(Buffer.from('intermediate')) }] } }
    : { certificate: { rawBytes: b64(parts.certificate) } };
  return bundleFromJSON({
    mediaType: parts.chain ? 'application/vnd.dev.sigstore.bundle+json;version=0.1' : 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      ...certificateMaterial,
      tlogEntries: [
        {
          logIndex: '123456789',
          logId: { keyId: b64(parts.logKeyId) },
          kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
          integratedTime: '1767225600',
          inclusionPromise: { signedEntryTimestamp: b64(parts.set) },
          inclusionProof: {
            logIndex: '23456789',
            rootHash: b64(Buffer.alloc(32, 7)),
            treeSize: '23456790',
            hashes: [b64(Buffer.alloc(32, 8))],
            checkpoint: { envelope: 'rekor.example - 1\n23456790\nBwcH\n\n— rekor.example sig\n' },
          },
          canonicalizedBody: b64(parts.body),
        },
      ],
      ...(parts.rfc3161 ? { timestampVerificationData: { rfc3161Timestamps: [{ signedTimestamp: b64(parts.rfc3161) }] } } : {}),
    },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(parts.payload).digest('base64') },
      signature: b64(parts.signature),
    },
  }) as Bundle;
}

describe('cosignLayerAnnotations', () => {
  let leaf: { der: Buffer; privateKey: KeyObject };
  let parts: BundleParts;

  beforeAll(async () => {
    leaf = await fulcioStyleLeaf();
    const payload = cosignPayload({ dockerReference: REFERENCE, manifestDigest: MANIFEST_DIGEST });
    const signature = sign('sha256', payload, leaf.privateKey);
    const body = Buffer.from(
      JSON.stringify({
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: {
          data: { hash: { algorithm: 'sha256', value: sha256Hex(payload) } },
          signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(toPem(leaf.der)).toString('base64') } },
        },
      }),
    );
    parts = {
      certificate: leaf.der,
      signature,
      payload,
      body,
      set: Buffer.from('MEUCIQ-signed-entry-timestamp-bytes'),
      logKeyId: Buffer.from('c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d', 'hex'),
    };
  });

  it('carries the signature, PEM leaf certificate, empty chain and Rekor bundle, keys sorted', () => {
    const annotations = cosignLayerAnnotations(messageSignatureBundle(parts));
    expect(Object.keys(annotations)).toEqual(['dev.cosignproject.cosign/signature', 'dev.sigstore.cosign/bundle', 'dev.sigstore.cosign/certificate', 'dev.sigstore.cosign/chain']);
    expect(annotations[COSIGN_ANNOTATIONS.signature]).toBe(parts.signature.toString('base64'));
    expect(annotations[COSIGN_ANNOTATIONS.chain]).toBe('');
  });

  it('writes the Rekor bundle annotation exactly as cosign does', () => {
    const annotations = cosignLayerAnnotations(messageSignatureBundle(parts));
    expect(annotations[COSIGN_ANNOTATIONS.bundle]).toBe(
      `{"SignedEntryTimestamp":"${parts.set.toString('base64')}",` +
        `"Payload":{"body":"${parts.body.toString('base64')}","integratedTime":1767225600,"logIndex":123456789,` +
        '"logID":"c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"}}',
    );
    const parsed = JSON.parse(annotations[COSIGN_ANNOTATIONS.bundle]!) as { Payload: { body: string; integratedTime: unknown; logIndex: unknown } };
    expect(typeof parsed.Payload.integratedTime).toBe('number');
    expect(typeof parsed.Payload.logIndex).toBe('number');
    const body = JSON.parse(Buffer.from(parsed.Payload.body, 'base64').toString('utf8')) as { spec: { data: { hash: { value: string } } } };
    expect(body.spec.data.hash.value).toBe(sha256Hex(parts.payload));
  });

  it('writes the leaf certificate as PEM with 64-character lines that parses back to the same certificate', () => {
    const pem = cosignLayerAnnotations(messageSignatureBundle(parts))[COSIGN_ANNOTATIONS.certificate]!;
    expect(pem.startsWith('-----BEGIN CERTIFICATE-----\n')).toBe(true);
    expect(pem.endsWith('\n-----END CERTIFICATE-----\n')).toBe(true);
    const base64Lines = pem.trim().split('\n').slice(1, -1);
    for (const line of base64Lines.slice(0, -1)) expect(line).toHaveLength(64);
    expect(base64Lines.at(-1)!.length).toBeGreaterThan(0);
    expect(base64Lines.at(-1)!.length).toBeLessThanOrEqual(64);
    expect(Buffer.from(base64Lines.join(''), 'base64')).toEqual(leaf.der);

    // What cosign verify does with it: the signature annotation verifies over the payload with this certificate.
    const certificate = new NodeX509Certificate(pem);
    expect(certificate.subjectAltName).toBe('URI:https://kubernetes.io/namespaces/apps/serviceaccounts/signer');
    const signature = Buffer.from(cosignLayerAnnotations(messageSignatureBundle(parts))[COSIGN_ANNOTATIONS.signature]!, 'base64');
    expect(verify('sha256', parts.payload, certificate.publicKey, signature)).toBe(true);
    expect(verify('sha256', Buffer.concat([parts.payload, Buffer.from(' ')]), certificate.publicKey, signature)).toBe(false);
  });

  it('takes the leaf (first) certificate of a certificate chain and still writes an empty chain', () => {
    const annotations = cosignLayerAnnotations(messageSignatureBundle({ ...parts, chain: true }));
    expect(annotations[COSIGN_ANNOTATIONS.certificate]).toBe(toPem(leaf.der));
    expect(annotations[COSIGN_ANNOTATIONS.chain]).toBe('');
  });

  it('adds the RFC 3161 timestamp annotation when the bundle has one, and only then', () => {
    const timestamp = Buffer.from([0x30, 0x82, 0x01, 0x02, 0xde, 0xad, 0xbe, 0xef]);
    const withTimestamp = cosignLayerAnnotations(messageSignatureBundle({ ...parts, rfc3161: timestamp }));
    expect(withTimestamp[COSIGN_ANNOTATIONS.rfc3161Timestamp]).toBe(`{"SignedRFC3161Timestamp":"${timestamp.toString('base64')}"}`);
    expect(Object.keys(withTimestamp)).toEqual([...Object.keys(withTimestamp)].sort());
    expect(Object.keys(withTimestamp)).toContain('dev.sigstore.cosign/rfc3161timestamp');

    expect(cosignLayerAnnotations(messageSignatureBundle(parts))).not.toHaveProperty([COSIGN_ANNOTATIONS.rfc3161Timestamp]);
  });

  it('refuses a DSSE bundle, a bundle without a Rekor SET, and a public-key bundle', () => {
    const good = messageSignatureBundle(parts);
    const dsse = {
      ...good,
      content: { $case: 'dsseEnvelope', dsseEnvelope: { payload: Buffer.from('{}'), payloadType: 'application/vnd.in-toto+json', signatures: [] } },
    } as unknown as Bundle;
    expect(() => cosignLayerAnnotations(dsse)).toThrow(/message-signature bundle/);

    const noPromise = {
      ...good,
      verificationMaterial: { ...good.verificationMaterial, tlogEntries: [{ ...good.verificationMaterial.tlogEntries[0]!, inclusionPromise: undefined }] },
    } as Bundle;
    expect(() => cosignLayerAnnotations(noPromise)).toThrow(/signed entry timestamp/);

    const noEntries = { ...good, verificationMaterial: { ...good.verificationMaterial, tlogEntries: [] } } as Bundle;
    expect(() => cosignLayerAnnotations(noEntries)).toThrow(/signed entry timestamp/);

    const publicKey = {
      ...good,
      verificationMaterial: { ...good.verificationMaterial, content: { $case: 'publicKey', publicKey: { hint: 'key' } } },
    } as Bundle;
    expect(() => cosignLayerAnnotations(publicKey)).toThrow(/certificate/);
  });
});

describe('appendSignatureLayer', () => {
  const layerFor = (payloadText: string, signature: string) => ({
    payload: Buffer.from(payloadText),
    annotations: {
      [COSIGN_ANNOTATIONS.signature]: signature,
      [COSIGN_ANNOTATIONS.certificate]: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      [COSIGN_ANNOTATIONS.chain]: '',
      [COSIGN_ANNOTATIONS.bundle]: '{"SignedEntryTimestamp":"c2V0","Payload":{"body":"e30=","integratedTime":1,"logIndex":2,"logID":"00"}}',
    },
  });
  const first = layerFor(cosignPayload({ dockerReference: REFERENCE, manifestDigest: MANIFEST_DIGEST }).toString(), 'c2lnbmF0dXJlLW9uZQ==');
  const second = layerFor(cosignPayload({ dockerReference: REFERENCE, manifestDigest: MANIFEST_DIGEST, annotations: { run: '2' } }).toString(), 'c2lnbmF0dXJlLXR3bw==');

  type Manifest = {
    schemaVersion: number;
    mediaType: string;
    config: { mediaType: string; size: number; digest: string };
    layers: { mediaType: string; size: number; digest: string; annotations: Record<string, string> }[];
  };
  const parse = (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as Manifest;

  it('writes the first signature as a one-layer OCI image whose config lists the layer digest', () => {
    const image = appendSignatureLayer(undefined, first);
    const manifest = parse(image.manifest);
    const layerDigest = `sha256:${sha256Hex(first.payload)}`;

    expect(manifest.schemaVersion).toBe(2);
    expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(manifest.config).toEqual({ mediaType: OCI_IMAGE_CONFIG_MEDIA_TYPE, size: image.config.length, digest: image.configDigest });
    expect(manifest.layers).toEqual([{ mediaType: SIMPLESIGNING_MEDIA_TYPE, size: first.payload.length, digest: layerDigest, annotations: first.annotations }]);
    expect(SIMPLESIGNING_MEDIA_TYPE).toBe('application/vnd.dev.cosign.simplesigning.v1+json');
    expect(OCI_IMAGE_CONFIG_MEDIA_TYPE).toBe('application/vnd.oci.image.config.v1+json');

    expect(image.config.toString('utf8')).toBe(
      '{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"",' +
        `"rootfs":{"type":"layers","diff_ids":["${layerDigest}"]},"config":{}}`,
    );
  });

  it('gives digests that are the sha256 of the bytes written', () => {
    const image = appendSignatureLayer(undefined, first);
    expect(image.manifestDigest).toBe(`sha256:${sha256Hex(image.manifest)}`);
    expect(image.configDigest).toBe(`sha256:${sha256Hex(image.config)}`);
  });

  it('writes the manifest keys in go-containerregistry order, layer annotations sorted', () => {
    const image = appendSignatureLayer(undefined, first);
    const layerDigest = `sha256:${sha256Hex(first.payload)}`;
    expect(image.manifest.toString('utf8')).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",' +
        `"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":${image.config.length},"digest":"${image.configDigest}"},` +
        `"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":${first.payload.length},"digest":"${layerDigest}",` +
        '"annotations":{"dev.cosignproject.cosign/signature":"c2lnbmF0dXJlLW9uZQ==",' +
        `"dev.sigstore.cosign/bundle":${JSON.stringify(first.annotations[COSIGN_ANNOTATIONS.bundle])},` +
        `"dev.sigstore.cosign/certificate":${JSON.stringify(first.annotations[COSIGN_ANNOTATIONS.certificate])},` +
        '"dev.sigstore.cosign/chain":""}}]}',
    );
  });

  it('appends a new signature after the existing layers, keeping them and their order', () => {
    const one = appendSignatureLayer(undefined, first);
    const two = appendSignatureLayer(one.manifest, second);
    const manifest = parse(two.manifest);

    expect(manifest.layers.map((l) => l.annotations[COSIGN_ANNOTATIONS.signature])).toEqual(['c2lnbmF0dXJlLW9uZQ==', 'c2lnbmF0dXJlLXR3bw==']);
    expect(manifest.layers[0]).toEqual(parse(one.manifest).layers[0]);
    expect(manifest.layers[1]!.digest).toBe(`sha256:${sha256Hex(second.payload)}`);

    const config = JSON.parse(two.config.toString('utf8')) as { rootfs: { diff_ids: string[] }; history: unknown[] };
    expect(config.rootfs.diff_ids).toEqual(manifest.layers.map((l) => l.digest));
    expect(config.history).toHaveLength(2);
    expect(manifest.config.digest).toBe(two.configDigest);
    expect(two.manifestDigest).not.toBe(one.manifestDigest);
  });

  it('keeps layers written by another tool as they are and appends after them', () => {
    // A `.sig` image cosign itself wrote earlier: same payload digest as ours, a different signature.
    const foreignLayer = {
      mediaType: SIMPLESIGNING_MEDIA_TYPE,
      size: 42,
      digest: `sha256:${'c'.repeat(64)}`,
      annotations: { 'dev.cosignproject.cosign/signature': 'Zm9yZWlnbg==', 'dev.sigstore.cosign/certificate': 'pem' },
    };
    const existing = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: OCI_IMAGE_CONFIG_MEDIA_TYPE, size: 1, digest: `sha256:${'d'.repeat(64)}` },
        layers: [foreignLayer],
      }),
    );
    const image = appendSignatureLayer(existing, first);
    const layers = parseSignatureManifest(image.manifest);
    expect(layers).toHaveLength(2);
    expect(layers[0]).toEqual(foreignLayer);
    expect(layers[1]!.annotations?.[COSIGN_ANNOTATIONS.signature]).toBe('c2lnbmF0dXJlLW9uZQ==');
    const config = JSON.parse(image.config.toString('utf8')) as { rootfs: { diff_ids: string[] } };
    expect(config.rootfs.diff_ids).toEqual([foreignLayer.digest, `sha256:${sha256Hex(first.payload)}`]);
  });

  it('does not add the same signature twice: a re-run writes the same image', () => {
    const one = appendSignatureLayer(undefined, first);
    const again = appendSignatureLayer(one.manifest, first);
    expect(parse(again.manifest).layers).toHaveLength(1);
    expect(again.manifest.equals(one.manifest)).toBe(true);
    expect(again.manifestDigest).toBe(one.manifestDigest);

    const two = appendSignatureLayer(one.manifest, second);
    const twoAgain = appendSignatureLayer(two.manifest, first);
    expect(parse(twoAgain.manifest).layers).toHaveLength(2);
    expect(twoAgain.manifestDigest).toBe(two.manifestDigest);
  });
});

describe('parseSignatureManifest', () => {
  it('reads the layers of a manifest, and none when it has no layer list', () => {
    const layer = { mediaType: SIMPLESIGNING_MEDIA_TYPE, size: 3, digest: `sha256:${'e'.repeat(64)}` };
    expect(parseSignatureManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [layer] })))).toEqual([layer]);
    expect(parseSignatureManifest(Buffer.from('{"schemaVersion":2}'))).toEqual([]);
    expect(parseSignatureManifest(Buffer.from('{"schemaVersion":2,"layers":{}}'))).toEqual([]);
  });
});
