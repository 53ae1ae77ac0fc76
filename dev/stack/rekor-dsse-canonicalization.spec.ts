/**
 * Known fault of @sigstore/mock's Rekor, mended by the local Rekor: DSSE entries must be stored in
 * Rekor's canonical dsse form, because @sigstore/verify checks the logged body against the bundle.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envelopeToJSON, type Bundle } from '@sigstore/bundle';
import { dsse, pem } from '@sigstore/core';
import { initializeTLog, rekorHandler } from '@sigstore/mock/dist/rekor';
import { HashAlgorithm, PublicKeyDetails, type TrustedRoot } from '@sigstore/protobuf-specs';
import { DSSEBundleBuilder, RekorWitness, type Signer } from '@sigstore/sign';
import { toSignedEntity, toTrustMaterial, VerificationError, Verifier } from '@sigstore/verify';
import { canonicalizeProposedEntry, ProposedEntryError } from './rekor-entry-canonicalizer';
import { RekorServer } from './rekor-server';
import { freePort } from '../../test/support/service-process';

const KEY_HINT = 'spec-signing-key';
const signingKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const signingKeyDer = signingKey.publicKey.export({ format: 'der', type: 'spki' });
const signingKeyPem = signingKey.publicKey.export({ format: 'pem', type: 'spki' }).toString();

/** Signs with a plain key (no Fulcio), so the bundle carries a public-key hint. */
const keySigner: Signer = {
  sign: async (data) => ({
    signature: sign('sha256', data, signingKey.privateKey),
    key: { $case: 'publicKey', publicKey: signingKeyPem, hint: KEY_HINT },
  }),
};

const statement = Buffer.from(
  JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ digest: { sha256: 'a'.repeat(64) } }],
    predicateType: 'https://sigstore.dev/cosign/sign/v1',
    predicate: {},
  }),
);

async function signDsse(rekorUrl: string): Promise<Bundle> {
  return new DSSEBundleBuilder({ signer: keySigner, witnesses: [new RekorWitness({ rekorBaseURL: rekorUrl })] }).create({
    data: statement,
    type: 'application/vnd.in-toto+json',
  });
}

function verifyWithLogKey(bundle: Bundle, rekorUrl: string, logKeyDer: Buffer): void {
  const start = new Date(Date.now() - 60_000);
  const trustedRoot: TrustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: rekorUrl,
        hashAlgorithm: HashAlgorithm.SHA2_256,
        publicKey: { rawBytes: logKeyDer, keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256, validFor: { start, end: undefined } },
        logId: { keyId: createHash('sha256').update(logKeyDer).digest() },
        checkpointKeyId: undefined,
        operator: 'spec',
      },
    ],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
  const keys = { [KEY_HINT]: { rawBytes: signingKeyDer, keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256, validFor: { start, end: undefined } } };
  new Verifier(toTrustMaterial(trustedRoot, keys), { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 }).verify(toSignedEntity(bundle));
}

function loggedBody(bundle: Bundle): { kind: string; apiVersion: string; spec: Record<string, unknown> } {
  return JSON.parse(bundle.verificationMaterial.tlogEntries[0]!.canonicalizedBody.toString('utf8'));
}

describe('DSSE entries in Rekor', () => {
  it('raw @sigstore/mock Rekor stores the proposed DSSE entry verbatim, and @sigstore/verify rejects the bundle', async () => {
    const logKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    let handler: ReturnType<typeof rekorHandler> | undefined;
    const server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        void handler!.fn(Buffer.concat(chunks).toString('utf8')).then((result) => {
          res.writeHead(result.statusCode, { 'Content-Type': result.contentType ?? 'text/plain' });
          res.end(result.response);
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    handler = rekorHandler(await initializeTLog(url, logKey));
    try {
      const bundle = await signDsse(url);
      const body = loggedBody(bundle);
      // What the mock logged: the client's proposal, envelope and all, not Rekor's canonical fields.
      expect(Object.keys(body.spec)).toEqual(['proposedContent']);
      expect(body.spec.signatures).toBeUndefined();

      let failure: unknown;
      try {
        verifyWithLogKey(bundle, url, logKey.publicKey.export({ format: 'der', type: 'spki' }));
      } catch (error) {
        failure = error;
      }
      expect(failure).toBeInstanceOf(VerificationError);
      expect(failure).toMatchObject({ code: 'TLOG_BODY_ERROR', message: 'signature count mismatch' });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('the local Rekor stores the canonical dsse body, and the same bundle verifies', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rekor-dsse-spec-'));
    const url = `http://127.0.0.1:${await freePort()}`;
    const rekor = await RekorServer.open({ dir, baseUrl: url });
    const http = rekor.createHttpService();
    await http.listen('127.0.0.1', Number(new URL(url).port));
    try {
      const bundle = await signDsse(url);
      const body = loggedBody(bundle);
      const envelope = bundle.content.$case === 'dsseEnvelope' ? bundle.content.dsseEnvelope : undefined;
      expect(envelope).toBeDefined();
      expect(body).toEqual({
        apiVersion: '0.0.1',
        kind: 'dsse',
        spec: {
          // sha256 of the envelope JSON exactly as submitted (what RekorWitness sends).
          envelopeHash: {
            algorithm: 'sha256',
            value: createHash('sha256')
              .update(JSON.stringify(envelopeToJSON(envelope!)))
              .digest('hex'),
          },
          payloadHash: { algorithm: 'sha256', value: createHash('sha256').update(statement).digest('hex') },
          signatures: [{ signature: envelope!.signatures[0]!.sig.toString('base64'), verifier: Buffer.from(signingKeyPem).toString('base64') }],
        },
      });
      expect(() => verifyWithLogKey(bundle, url, rekor.publicKeyDer)).not.toThrow();
    } finally {
      await http.close();
      await rekor.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('canonicalizeProposedEntry (dsse 0.0.1)', () => {
  const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const payloadType = 'application/vnd.in-toto+json';
  const sig = (key: typeof signingKey) => sign('sha256', dsse.preAuthEncoding(payloadType, statement), key.privateKey).toString('base64');
  const b64Pem = (key: typeof signingKey) => Buffer.from(key.publicKey.export({ format: 'pem', type: 'spki' }).toString()).toString('base64');
  const proposal = (signatures: string[], verifiers: string[]) => ({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      proposedContent: {
        envelope: JSON.stringify({ payloadType, payload: statement.toString('base64'), signatures: signatures.map((s) => ({ sig: s, keyid: '' })) }),
        verifiers,
      },
    },
  });

  it('refuses a signature no verifier verifies, as Rekor does', () => {
    expect(() => canonicalizeProposedEntry(proposal([sig(signingKey)], [b64Pem(other)]))).toThrow(new ProposedEntryError('all signatures must have a key that verifies it'));
  });

  it('sorts signatures, pairs each with its verifier, and stores keys as canonical PEM', () => {
    const signatures = [sig(signingKey), sig(other)];
    const oneLine = (key: typeof signingKey) =>
      Buffer.from(`-----BEGIN PUBLIC KEY-----\n${key.publicKey.export({ format: 'der', type: 'spki' }).toString('base64')}\n-----END PUBLIC KEY-----`).toString('base64');
    const { body } = canonicalizeProposedEntry(proposal(signatures, [oneLine(other), oneLine(signingKey)]));
    const spec = JSON.parse(body.toString('utf8')).spec as { signatures: Array<{ signature: string; verifier: string }> };
    expect(spec.signatures.map((s) => s.signature)).toEqual([...signatures].sort());
    for (const entry of spec.signatures) {
      const key = entry.signature === signatures[0] ? signingKey : other;
      expect(Buffer.from(entry.verifier, 'base64').toString()).toBe(pem.fromDER(key.publicKey.export({ format: 'der', type: 'spki' }), 'PUBLIC KEY'));
    }
  });
});
