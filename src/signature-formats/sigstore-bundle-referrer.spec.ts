import { createHash } from 'node:crypto';

import { referrerEntry } from '../registry/referrers-tag-fallback';
import { SLSA_PROVENANCE_PREDICATE_TYPE } from './slsa-provenance';
import {
  BUNDLE_MEDIA_TYPE,
  BUNDLE_PREDICATE_TYPE_ANNOTATION,
  bundleReferrerManifest,
  COSIGN_SIGN_PREDICATE_TYPE,
  cosignSignStatement,
  IN_TOTO_PAYLOAD_TYPE,
  OCI_EMPTY_BLOB,
  OCI_EMPTY_MEDIA_TYPE,
} from './sigstore-bundle-referrer';

const sha256Hex = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

const SIGNED_HEX = '4260b4815cfe23cc5e941d33d8cb1caaeb6de4591ad76e98200f6215945eaf26';
const SIGNED_DIGEST = `sha256:${SIGNED_HEX}`;
const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

describe('constants', () => {
  it('are the media and predicate types cosign v3 writes', () => {
    expect(BUNDLE_MEDIA_TYPE).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(OCI_EMPTY_MEDIA_TYPE).toBe('application/vnd.oci.empty.v1+json');
    expect(IN_TOTO_PAYLOAD_TYPE).toBe('application/vnd.in-toto+json');
    expect(COSIGN_SIGN_PREDICATE_TYPE).toBe('https://sigstore.dev/cosign/sign/v1');
    expect(OCI_EMPTY_BLOB.toString('utf8')).toBe('{}');
    expect(`sha256:${sha256Hex(OCI_EMPTY_BLOB)}`).toBe(EMPTY_DIGEST);
  });
});

describe('cosignSignStatement', () => {
  it('writes the in-toto statement byte for byte, without annotations', () => {
    expect(cosignSignStatement({ manifestDigest: SIGNED_DIGEST }).toString('utf8')).toBe(
      '{"_type":"https://in-toto.io/Statement/v1",' +
        `"subject":[{"digest":{"sha256":"${SIGNED_HEX}"}}],` +
        '"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}',
    );
    expect(cosignSignStatement({ manifestDigest: SIGNED_DIGEST, annotations: {} }).toString('utf8')).not.toContain('annotations');
  });

  it('writes annotations on the subject, keys sorted', () => {
    expect(cosignSignStatement({ manifestDigest: SIGNED_DIGEST, annotations: { 'z.last': '1', build: 'ci-7', 'a.first': 'x' } }).toString('utf8')).toBe(
      '{"_type":"https://in-toto.io/Statement/v1",' +
        `"subject":[{"digest":{"sha256":"${SIGNED_HEX}"},"annotations":{"a.first":"x","build":"ci-7","z.last":"1"}}],` +
        '"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}',
    );
  });

  it('names the digest algorithm as the subject digest key', () => {
    const statement = JSON.parse(cosignSignStatement({ manifestDigest: `sha512:${'ab'.repeat(64)}` }).toString('utf8')) as {
      subject: { digest: Record<string, string> }[];
    };
    expect(statement.subject[0]!.digest).toEqual({ sha512: 'ab'.repeat(64) });
  });
});

describe('bundleReferrerManifest', () => {
  const bundleJson = Buffer.from('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{},"dsseEnvelope":{}}');
  const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: SIGNED_DIGEST, size: 545 };
  const created = new Date('2026-03-04T05:06:07.890Z');

  it('writes the OCI 1.1 referrer manifest byte for byte', () => {
    const referrer = bundleReferrerManifest({ bundleJson, subject, created });
    const bundleDigest = `sha256:${sha256Hex(bundleJson)}`;
    expect(referrer.manifest.toString('utf8')).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",' +
        '"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json",' +
        `"config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"${EMPTY_DIGEST}"},` +
        `"layers":[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","size":${bundleJson.length},"digest":"${bundleDigest}"}],` +
        '"annotations":{"dev.sigstore.bundle.content":"dsse-envelope",' +
        '"dev.sigstore.bundle.predicateType":"https://sigstore.dev/cosign/sign/v1",' +
        '"org.opencontainers.image.created":"2026-03-04T05:06:07Z"},' +
        `"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":545,"digest":"${SIGNED_DIGEST}"}}`,
    );
  });

  it('has the shape of FORMATS §3: empty config, one bundle layer, subject the signed manifest', () => {
    const referrer = bundleReferrerManifest({ bundleJson, subject, created });
    const manifest = JSON.parse(referrer.manifest.toString('utf8')) as Record<string, unknown>;
    expect(manifest).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: EMPTY_DIGEST },
      layers: [{ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', size: bundleJson.length, digest: `sha256:${sha256Hex(bundleJson)}` }],
      annotations: {
        'dev.sigstore.bundle.content': 'dsse-envelope',
        'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1',
        'org.opencontainers.image.created': '2026-03-04T05:06:07Z',
      },
      subject,
    });
  });

  it('returns the bundle blob and the digests of what it wrote', () => {
    const referrer = bundleReferrerManifest({ bundleJson, subject, created });
    expect(referrer.bundleBlob.equals(bundleJson)).toBe(true);
    expect(referrer.bundleDigest).toBe(`sha256:${sha256Hex(bundleJson)}`);
    expect(referrer.manifestDigest).toBe(`sha256:${sha256Hex(referrer.manifest)}`);
  });

  it('writes created in RFC 3339 UTC to the second, whatever the milliseconds', () => {
    const createdOf = (date: Date) =>
      (JSON.parse(bundleReferrerManifest({ bundleJson, subject, created: date }).manifest.toString('utf8')) as { annotations: Record<string, string> }).annotations[
        'org.opencontainers.image.created'
      ];
    expect(createdOf(new Date('2026-12-31T23:59:59.999Z'))).toBe('2026-12-31T23:59:59Z');
    expect(createdOf(new Date('2026-01-01T00:00:00.000Z'))).toBe('2026-01-01T00:00:00Z');
    expect(createdOf(new Date(Date.UTC(2026, 5, 15, 12, 30, 45, 1)))).toBe('2026-06-15T12:30:45Z');
    for (const value of [createdOf(new Date()), createdOf(new Date(0))]) {
      expect(value).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    }
  });

  it('is deterministic: same inputs, same manifest digest; another bundle, another digest', () => {
    const a = bundleReferrerManifest({ bundleJson, subject, created });
    const b = bundleReferrerManifest({ bundleJson: Buffer.from(bundleJson), subject: { ...subject }, created: new Date(created) });
    expect(b.manifestDigest).toBe(a.manifestDigest);
    const other = bundleReferrerManifest({ bundleJson: Buffer.from(`${bundleJson.toString()} `), subject, created });
    expect(other.manifestDigest).not.toBe(a.manifestDigest);
    expect(other.bundleDigest).not.toBe(a.bundleDigest);
  });

  it('names the predicate type given (an SLSA provenance attestation), in the same place', () => {
    const attestation = bundleReferrerManifest({ bundleJson, subject, created, predicateType: SLSA_PROVENANCE_PREDICATE_TYPE });
    const signature = bundleReferrerManifest({ bundleJson, subject, created });
    expect(attestation.manifest.toString('utf8')).toBe(
      signature.manifest
        .toString('utf8')
        .replace('"dev.sigstore.bundle.predicateType":"https://sigstore.dev/cosign/sign/v1"', '"dev.sigstore.bundle.predicateType":"https://slsa.dev/provenance/v1"'),
    );
    expect(attestation.manifestDigest).not.toBe(signature.manifestDigest);
  });

  it('gives the fallback index descriptor the predicate type and content annotations (FORMATS §6)', () => {
    const attestation = bundleReferrerManifest({ bundleJson, subject, created, predicateType: SLSA_PROVENANCE_PREDICATE_TYPE });
    const entry = referrerEntry(attestation.manifest, 'application/vnd.oci.image.manifest.v1+json')!;
    expect(entry.subjectDigest).toBe(SIGNED_DIGEST);
    expect(entry.descriptor).toEqual({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: attestation.manifest.length,
      digest: attestation.manifestDigest,
      artifactType: BUNDLE_MEDIA_TYPE,
      annotations: {
        'dev.sigstore.bundle.content': 'dsse-envelope',
        [BUNDLE_PREDICATE_TYPE_ANNOTATION]: 'https://slsa.dev/provenance/v1',
        'org.opencontainers.image.created': '2026-03-04T05:06:07Z',
      },
    });
  });
});
