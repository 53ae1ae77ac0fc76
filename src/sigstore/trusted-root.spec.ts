import { createHash, generateKeyPairSync } from 'node:crypto';
import { initializeCA } from '@sigstore/mock/dist/fulcio';
import { describeTrustedRoot, parseTrustedRoot, trustMaterialOf } from './trusted-root';
import { BundleVerificationError } from './verification-error';

const spki = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
const tlogKey = spki();
const ctlogKey = spki();
let caCertificate: string;

beforeAll(async () => {
  const ca = await initializeCA(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }));
  caCertificate = Buffer.from(ca.rootCertificate.buffer, ca.rootCertificate.byteOffset, ca.rootCertificate.byteLength).toString('base64');
});

// Loosely typed on purpose: the tests break trusted roots in ways no type would allow.
type Json = Record<string, any>;

function trustedRootJson(): Json {
  const log = (key: Buffer, baseUrl: string, validFor: Json | undefined) => ({
    baseUrl,
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: key.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', ...(validFor ? { validFor } : {}) },
    logId: { keyId: createHash('sha256').update(key).digest('base64') },
  });
  return {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [log(tlogKey, 'https://rekor.example', { start: '2024-01-01T00:00:00Z' })],
    ctlogs: [log(ctlogKey, 'https://ctfe.example', undefined)],
    certificateAuthorities: [
      {
        subject: { organization: 'example', commonName: 'example-ca' },
        uri: 'https://fulcio.example',
        certChain: { certificates: [{ rawBytes: caCertificate }] },
        validFor: { start: '2024-01-01T00:00:00Z', end: '2030-01-01T00:00:00Z' },
      },
    ],
    timestampAuthorities: [],
  };
}

const codeOf = (json: unknown) => {
  try {
    trustMaterialOf(parseTrustedRoot(json));
  } catch (error) {
    if (error instanceof BundleVerificationError) return { code: error.code, message: error.message };
    throw error;
  }
  return undefined;
};

describe('parseTrustedRoot', () => {
  it('reads a valid root into trust material', () => {
    const material = trustMaterialOf(parseTrustedRoot(trustedRootJson()));
    expect(material.tlogs).toHaveLength(1);
    expect(material.tlogs[0]!.validFor.start).toEqual(new Date('2024-01-01T00:00:00Z'));
    expect(material.certificateAuthorities[0]!.certChain).toHaveLength(1);
  });

  it('reads a key without any validity period as unbounded', () => {
    const material = trustMaterialOf(parseTrustedRoot(trustedRootJson()));
    expect(material.ctlogs[0]!.validFor.start).toEqual(new Date(0));
  });

  // @sigstore/verify turns a missing start into "since the beginning of time"; the root is refused instead.
  it.each<[string, (root: Json) => void, string]>([
    ['a tlog key', (root) => void delete root.tlogs[0].publicKey.validFor.start, 'tlogs[0].publicKey.validFor.start is missing'],
    ['a ctlog key', (root) => void (root.ctlogs[0].publicKey.validFor = { end: '2030-01-01T00:00:00Z' }), 'ctlogs[0].publicKey.validFor.start is missing'],
    ['a certificate authority', (root) => void (root.certificateAuthorities[0].validFor = {}), 'certificateAuthorities[0].validFor.start is missing'],
  ])('refuses a validity period of %s without a start', (_what, mutate, message) => {
    const root = trustedRootJson();
    mutate(root);
    expect(codeOf(root)).toEqual({ code: 'TRUSTED_ROOT_MALFORMED', message: expect.stringContaining(message) });
  });

  it('refuses a document that is not an object', () => {
    expect(codeOf('trusted_root.json')).toEqual({ code: 'TRUSTED_ROOT_MALFORMED', message: expect.stringContaining('not a JSON object') });
  });

  it.each<[string, (root: Json) => void, string]>([
    ['an unknown media type', (root) => void (root.mediaType = 'application/json'), 'mediaType'],
    ['tlogs that are not a list', (root) => void (root.tlogs = {}), 'tlogs is not a list'],
    ['a log without a key', (root) => void delete root.tlogs[0].publicKey.rawBytes, 'tlogs[0].publicKey.rawBytes is missing'],
    ['a log without an ID', (root) => void delete root.tlogs[0].logId, 'tlogs[0].logId.keyId is missing'],
    ['an authority without certificates', (root) => void (root.certificateAuthorities[0].certChain.certificates = []), 'certChain.certificates is missing or empty'],
    ['a validity that is not a time', (root) => void (root.tlogs[0].publicKey.validFor.start = 'yesterday'), 'not an RFC 3339 timestamp'],
    ['a validity that ends before it starts', (root) => void (root.tlogs[0].publicKey.validFor.end = '2023-01-01T00:00:00Z'), 'ends before it starts'],
    ['a key that is not a key', (root) => void (root.tlogs[0].publicKey.rawBytes = Buffer.from('not a key').toString('base64')), 'cannot be read'],
  ])('refuses %s', (_what, mutate, message) => {
    const root = trustedRootJson();
    mutate(root);
    expect(codeOf(root)).toEqual({ code: 'TRUSTED_ROOT_MALFORMED', message: expect.stringContaining(message) });
  });

  it('accepts the v0.2 media type spelling', () => {
    expect(codeOf({ ...trustedRootJson(), mediaType: 'application/vnd.dev.sigstore.trustedroot.v0.2+json' })).toBeUndefined();
  });
});

describe('describeTrustedRoot', () => {
  it('lists authorities and logs with their IDs and validity', () => {
    expect(describeTrustedRoot(parseTrustedRoot(trustedRootJson()))).toEqual({
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      certificateAuthorities: [
        { subject: 'O=example, CN=example-ca', uri: 'https://fulcio.example', certificates: 1, validFor: { start: '2024-01-01T00:00:00.000Z', end: '2030-01-01T00:00:00.000Z' } },
      ],
      timestampAuthorities: [],
      tlogs: [
        {
          baseUrl: 'https://rekor.example',
          logId: createHash('sha256').update(tlogKey).digest('base64'),
          checkpointKeyId: null,
          validFor: { start: '2024-01-01T00:00:00.000Z', end: null },
        },
      ],
      ctlogs: [{ baseUrl: 'https://ctfe.example', logId: createHash('sha256').update(ctlogKey).digest('base64'), checkpointKeyId: null, validFor: { start: null, end: null } }],
    });
  });
});
