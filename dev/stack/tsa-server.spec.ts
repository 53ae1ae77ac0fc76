/**
 * Known fault of @sigstore/mock's TSA, mended by the local TSA: GeneralizedTime values with a 1- or
 * 2-digit fraction of a second, which @sigstore/core cannot parse.
 */
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RFC3161Timestamp, X509Certificate } from '@sigstore/core';
import { initializeTSA } from '@sigstore/mock/dist/timestamp';
import type { TimestampRequest } from '@sigstore/mock/dist/timestamp/tsa';
import { LocalTimestampAuthority } from './tsa-server';

const artifact = Buffer.from('signature bytes to be timestamped');
const request: TimestampRequest = {
  artifactHash: createHash('sha256').update(artifact).digest(),
  hashAlgorithmOID: '2.16.840.1.101.3.4.2.1',
  nonce: 42,
  policyOID: '1.3.6.1.4.1.57264.2',
};

const der = (view: ArrayBufferView<ArrayBuffer>): Buffer<ArrayBuffer> => Buffer.from(view.buffer, view.byteOffset, view.byteLength);

describe('raw @sigstore/mock TSA', () => {
  it.each([
    ['2026-11-25T12:00:00.500Z', '20261125120000.5Z'],
    ['2026-11-25T12:00:00.120Z', '20261125120000.12Z'],
  ])('stamps %s as %s, which @sigstore/core refuses to parse', async (now, encoded) => {
    const tsa = await initializeTSA(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }), new Date(now));
    const response = der(await tsa.timestamp(request));
    expect(response.includes(Buffer.from(encoded, 'ascii'))).toBe(true);
    const timestamp = RFC3161Timestamp.parse(response);
    expect(() => timestamp.signingTime).toThrow('invalid time');
  });

  it('stamps 3-digit fractions, which do parse (so the fault shows in about one timestamp in ten)', async () => {
    const tsa = await initializeTSA(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }), new Date('2026-11-25T12:00:00.123Z'));
    const timestamp = RFC3161Timestamp.parse(der(await tsa.timestamp(request)));
    expect(timestamp.signingTime.toISOString()).toBe('2026-11-25T12:00:00.000Z');
  });
});

describe('LocalTimestampAuthority', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsa-spec-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['2026-11-25T12:00:00.500Z', '2026-11-25T12:00:00.120Z', '2026-11-25T12:00:00.999Z'])(
    'stamps whole seconds at %s: the timestamp parses and verifies with the published signing certificate',
    async (now) => {
      const tsa = await LocalTimestampAuthority.open(dir, () => new Date(now));
      const response = await tsa.timestamp(request);
      expect(response.includes(Buffer.from('20261125120000Z', 'ascii'))).toBe(true);
      const timestamp = RFC3161Timestamp.parse(response);
      expect(timestamp.signingTime.toISOString()).toBe('2026-11-25T12:00:00.000Z');
      const [signing, root] = tsa.chain.map((c) => X509Certificate.parse(c));
      expect(signing!.verify(root)).toBe(true);
      expect(() => timestamp.verify(artifact, createPublicKey({ key: signing!.publicKey, format: 'der', type: 'spki' }))).not.toThrow();
      expect(() => timestamp.verify(Buffer.from('other bytes'), createPublicKey({ key: signing!.publicKey, format: 'der', type: 'spki' }))).toThrow();
    },
  );

  it('keeps the same chain across restarts, and timestamps made after a restart verify against it', async () => {
    const first = await LocalTimestampAuthority.open(dir);
    const second = await LocalTimestampAuthority.open(dir);
    expect(second.chain.map((c) => c.toString('hex'))).toEqual(first.chain.map((c) => c.toString('hex')));
    const timestamp = RFC3161Timestamp.parse(await second.timestamp(request));
    const signing = X509Certificate.parse(first.chain[0]!);
    // @sigstore/verify picks the TSA by the signer's issuer and serial number, then checks the signature.
    expect(timestamp.signerSerialNumber.equals(signing.serialNumber)).toBe(true);
    expect(timestamp.signerIssuer.equals(signing.issuer)).toBe(true);
    expect(() => timestamp.verify(artifact, createPublicKey({ key: signing.publicKey, format: 'der', type: 'spki' }))).not.toThrow();
  });

  it('serves timestamps over HTTP with the mock handler, and refuses non-JSON requests', async () => {
    const tsa = await LocalTimestampAuthority.open(dir);
    const http = tsa.createHttpService();
    await http.listen('127.0.0.1', 0);
    try {
      const url = `http://127.0.0.1:${http.port}/api/v1/timestamp`;
      const ok = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ artifactHash: request.artifactHash.toString('base64'), hashAlgorithm: 'sha256' }),
      });
      expect(ok.status).toBe(201);
      expect(ok.headers.get('content-type')).toBe('application/timestamp-reply');
      const timestamp = RFC3161Timestamp.parse(Buffer.from(await ok.arrayBuffer()));
      expect(timestamp.signingTime.getUTCMilliseconds()).toBe(0);

      const query = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/timestamp-query' }, body: Buffer.from([0x30, 0x00]) });
      expect(query.status).toBe(415);
      const chain = await (await fetch(`http://127.0.0.1:${http.port}/api/v1/timestamp/certchain`)).text();
      expect(chain.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    } finally {
      await http.close();
    }
  });
});
