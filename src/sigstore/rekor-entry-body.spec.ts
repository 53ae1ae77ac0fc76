import { bundleCertificatePem, fixtureJson, localStackRekorEntry } from './__fixtures__/vectors';
import { entryCertificates, parseEntryBody } from './rekor-entry-body';

const bodyOf = (bundle: string) => parseEntryBody(Buffer.from(fixtureJson(bundle).verificationMaterial.tlogEntries[0].canonicalizedBody, 'base64'));
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('entryCertificates', () => {
  it('finds the certificate of a hashedrekord entry', () => {
    const body = bodyOf('public-good-hashedrekord.sigstore.json');
    expect(body.kind).toBe('hashedrekord');
    expect(entryCertificates(body).map((pem) => pem.replace(/\s+/g, ''))).toEqual([bundleCertificatePem('public-good-hashedrekord.sigstore.json').replace(/\s+/g, '')]);
  });

  it('finds the verifier certificate of a dsse entry', () => {
    const body = bodyOf('public-good-dsse.sigstore.json');
    expect(body.kind).toBe('dsse');
    expect(entryCertificates(body).map((pem) => pem.replace(/\s+/g, ''))).toEqual([bundleCertificatePem('public-good-dsse.sigstore.json').replace(/\s+/g, '')]);
  });

  it('finds the certificate the local Rekor recorded', () => {
    const body = parseEntryBody(Buffer.from(localStackRekorEntry().body, 'base64'));
    expect(entryCertificates(body)).toHaveLength(1);
  });

  it('finds the doubly encoded keys of an intoto 0.0.2 entry', () => {
    const pem = bundleCertificatePem('public-good-dsse.sigstore.json');
    const body = { kind: 'intoto', apiVersion: '0.0.2', spec: { content: { envelope: { signatures: [{ publicKey: b64(b64(pem)) }] } } } };
    expect(entryCertificates(body)).toEqual([pem]);
  });

  it('leaves out plain public keys and unknown kinds', () => {
    const key = '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n';
    expect(entryCertificates({ kind: 'hashedrekord', spec: { signature: { publicKey: { content: b64(key) } } } })).toEqual([]);
    expect(entryCertificates({ kind: 'rfc3161', spec: {} })).toEqual([]);
  });

  it('refuses a body that is not a JSON object', () => {
    expect(() => parseEntryBody(Buffer.from('[1]'))).toThrow('not a JSON object');
  });
});
