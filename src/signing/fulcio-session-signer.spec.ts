import { createPublicKey, generateKeyPairSync, verify as verifySignature } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { X509Certificate } from '@sigstore/core';
// Deep import on purpose: the package root also loads nock, which patches node:http for the whole process.
import { fulcioHandler, initializeCA, initializeCTLog } from '@sigstore/mock/dist/fulcio';
import type { Bundle } from '@sigstore/bundle';
import { RekorServer } from '../../dev/stack/rekor-server';
import { IdentityTokenError } from './identity/identity-errors';
import { CERTIFICATE_RENEWAL_MARGIN_MS, FulcioSessionSigner } from './fulcio-session-signer';
import { SigstoreError } from './sigstore-errors';
import { SigstoreSigner } from './sigstore-signer';

const b64url = (text: string): string => Buffer.from(text).toString('base64url');
const ISSUER = 'https://issuer.example';
const SUBJECT = 'https://example.com/workload';
const TOKEN = `${b64url('{"alg":"RS256"}')}.${b64url(JSON.stringify({ iss: ISSUER, sub: SUBJECT, aud: 'sigstore', exp: 4102444800 }))}.${b64url('sig')}`;

/**
 * A loopback Fulcio (@sigstore/mock's CA: 10-minute certificates for the token's `sub`) and Rekor (the
 * local stack's), on one port, counting what each is asked; Fulcio answers `fulcioStatus` instead when set.
 */
class LoopbackSigstore {
  fulcioRequests = 0;
  rekorRequests = 0;
  /** Entries Rekor stored (a resubmitted entry is not stored again). */
  rekorCreated = 0;
  fulcioStatus: number | undefined;
  /** Rekor stores this many entries but answers 503 to them, like a server whose answer is lost. */
  rekorLostAnswers = 0;

  private constructor(
    private readonly server: Server,
    private readonly rekor: RekorServer,
    private readonly dir: string,
    readonly url: string,
  ) {}

  static async start(): Promise<LoopbackSigstore> {
    const ctLog = await initializeCTLog(generateKeyPairSync('ec', { namedCurve: 'P-256' }));
    const fulcio = fulcioHandler(await initializeCA(generateKeyPairSync('ec', { namedCurve: 'P-256' }), ctLog));
    let self!: LoopbackSigstore;
    let rekor!: RekorServer;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        const answer = async (): Promise<{ status: number; body: string; location?: string }> => {
          if (path === fulcio.path) {
            self.fulcioRequests += 1;
            if (self.fulcioStatus) return { status: self.fulcioStatus, body: JSON.stringify({ code: self.fulcioStatus, message: 'fake fulcio says no' }) };
            const { statusCode, response } = await fulcio.fn(body);
            return { status: statusCode, body: typeof response === 'string' ? response : Buffer.from(response.buffer, response.byteOffset, response.byteLength).toString('utf8') };
          }
          if (path === '/api/v1/log/entries' && req.method === 'POST') {
            self.rekorRequests += 1;
            const { uuid, entry, created } = await rekor.createEntry(JSON.parse(body));
            if (created) self.rekorCreated += 1;
            if (self.rekorLostAnswers > 0) {
              self.rekorLostAnswers -= 1;
              return { status: 503, body: JSON.stringify({ code: 503, message: 'answer lost' }) };
            }
            if (created) return { status: 201, body: JSON.stringify({ [uuid]: entry }) };
            return { status: 409, location: `/api/v1/log/entries/${uuid}`, body: JSON.stringify({ code: 409, message: 'an equivalent entry already exists' }) };
          }
          const existing = /^\/api\/v1\/log\/entries\/([0-9a-f]+)$/.exec(path)?.[1];
          const stored = existing ? rekor.findByUuid(existing) : undefined;
          if (stored) return { status: 200, body: JSON.stringify({ [existing!]: rekor.toLogEntry(stored) }) };
          return { status: 404, body: 'not found' };
        };
        answer().then(
          ({ status, body: text, location }) => res.writeHead(status, { 'content-type': 'application/json', ...(location ? { location } : {}) }).end(text),
          (error: unknown) => res.writeHead(400, { 'content-type': 'text/plain' }).end(String(error)),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = await mkdtemp(join(tmpdir(), 'fulcio-session-'));
    rekor = await RekorServer.open({ dir, baseUrl: url });
    self = new LoopbackSigstore(server, rekor, dir, url);
    return self;
  }

  reset(): void {
    this.fulcioRequests = 0;
    this.rekorRequests = 0;
    this.rekorCreated = 0;
    this.fulcioStatus = undefined;
    this.rekorLostAnswers = 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.rekor.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

const leafOf = (bundle: Bundle): string => {
  const content = bundle.verificationMaterial.content;
  if (content.$case === 'x509CertificateChain') return content.x509CertificateChain.certificates[0]!.rawBytes.toString('base64');
  if (content.$case === 'certificate') return content.certificate.rawBytes.toString('base64');
  throw new Error(`no certificate in the bundle (${content.$case})`);
};

describe('FulcioSessionSigner', () => {
  let stack: LoopbackSigstore;
  let tokenFetches: number;
  const fulcioOptions = () => ({
    fulcioBaseURL: stack.url,
    identityProvider: { getToken: async () => ((tokenFetches += 1), TOKEN) },
    retry: { retries: 0 },
    timeout: 5_000,
  });

  beforeAll(async () => {
    stack = await LoopbackSigstore.start();
  });
  afterAll(() => stack.stop());
  beforeEach(() => {
    stack.reset();
    tokenFetches = 0;
  });

  const verifies = (data: Buffer, signature: Buffer, certificatePem: string) =>
    verifySignature('sha256', data, createPublicKey({ key: Buffer.from(X509Certificate.parse(certificatePem).publicKey), format: 'der', type: 'spki' }), signature);

  it('signs twice with one token, one Fulcio certificate and one key', async () => {
    const signer = new FulcioSessionSigner(fulcioOptions());
    const first = await signer.sign(Buffer.from('first'));
    const second = await signer.sign(Buffer.from('second'));
    expect(stack.fulcioRequests).toBe(1);
    expect(tokenFetches).toBe(1);
    expect(first.key.$case).toBe('x509Certificate');
    expect(second.key).toEqual(first.key);
    const certificate = (first.key as { certificate: string }).certificate;
    expect(X509Certificate.parse(certificate).subjectAltName).toBe(SUBJECT);
    // Each signature is over its own data, by the certified key.
    expect(verifies(Buffer.from('first'), first.signature, certificate)).toBe(true);
    expect(verifies(Buffer.from('second'), second.signature, certificate)).toBe(true);
    expect(verifies(Buffer.from('first'), second.signature, certificate)).toBe(false);
  });

  it('asks Fulcio once when signatures are requested concurrently', async () => {
    const signer = new FulcioSessionSigner(fulcioOptions());
    const signatures = await Promise.all(['a', 'b', 'c'].map((text) => signer.sign(Buffer.from(text))));
    expect(stack.fulcioRequests).toBe(1);
    expect(new Set(signatures.map((s) => (s.key as { certificate: string }).certificate)).size).toBe(1);
  });

  it('gets a new key and certificate when the one held would expire within the margin', async () => {
    let now = Date.now();
    const signer = new FulcioSessionSigner(fulcioOptions(), { now: () => now });
    const first = await signer.sign(Buffer.from('first'));
    const notAfter = X509Certificate.parse((first.key as { certificate: string }).certificate).notAfter.getTime();

    now = notAfter - CERTIFICATE_RENEWAL_MARGIN_MS - 1_000;
    const stillValid = await signer.sign(Buffer.from('second'));
    expect(stack.fulcioRequests).toBe(1);
    expect(stillValid.key).toEqual(first.key);

    now = notAfter - CERTIFICATE_RENEWAL_MARGIN_MS + 1_000;
    const renewed = await signer.sign(Buffer.from('third'));
    expect(stack.fulcioRequests).toBe(2);
    expect(tokenFetches).toBe(2);
    const renewedCertificate = (renewed.key as { certificate: string }).certificate;
    expect(renewedCertificate).not.toEqual((first.key as { certificate: string }).certificate);
    // A new key too: the old certificate's key did not make this signature.
    expect(X509Certificate.parse(renewedCertificate).publicKey).not.toEqual(X509Certificate.parse((first.key as { certificate: string }).certificate).publicKey);
    expect(verifies(Buffer.from('third'), renewed.signature, renewedCertificate)).toBe(true);

    // The renewed certificate (valid for 10 minutes from the real time it was issued) is held in turn.
    now = Date.now();
    await signer.sign(Buffer.from('fourth'));
    expect(stack.fulcioRequests).toBe(2);
  });

  it('keeps no failed certification: the next signature asks Fulcio again', async () => {
    const signer = new FulcioSessionSigner(fulcioOptions());
    stack.fulcioStatus = 503;
    await expect(signer.sign(Buffer.from('first'))).rejects.toMatchObject({ code: 'CA_CREATE_SIGNING_CERTIFICATE_ERROR' });
    stack.fulcioStatus = undefined;
    const signature = await signer.sign(Buffer.from('second'));
    expect(signature.key.$case).toBe('x509Certificate');
    expect(stack.fulcioRequests).toBe(2);
  });

  it('holds the private key out of sight: nothing of it shows when the signer is inspected or serialised', async () => {
    const signer = new FulcioSessionSigner(fulcioOptions());
    await signer.sign(Buffer.from('x'));
    const shown = `${JSON.stringify(signer)} ${inspect(signer, { depth: 10, showHidden: true })}`;
    expect(shown).not.toMatch(/PRIVATE KEY|privateKey|KeyObject/);
  });
});

describe('SigstoreSigner sessions', () => {
  let stack: LoopbackSigstore;

  beforeAll(async () => {
    stack = await LoopbackSigstore.start();
  });
  afterAll(() => stack.stop());
  beforeEach(() => stack.reset());

  const signerWith = (scope: 'job' | 'signature', token: () => Promise<string> = async () => TOKEN) =>
    new SigstoreSigner({ fulcioUrl: stack.url, rekorUrl: stack.url, tsaUrl: undefined }, { description: 'test', getToken: token }, 5_000, scope);
  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [], predicateType: 'x', predicate: {} }));

  it('job scope: the classic signature and the bundle of one session carry the same certificate, with an entry each in Rekor', async () => {
    const session = signerWith('job').session();
    const message = await session.signMessage(Buffer.from('payload'));
    const dsse = await session.signStatement(statement);
    expect(stack.fulcioRequests).toBe(1);
    expect(stack.rekorRequests).toBe(2);
    expect(leafOf(dsse)).toBe(leafOf(message));
    expect(message.verificationMaterial.tlogEntries[0]!.logIndex).not.toBe(dsse.verificationMaterial.tlogEntries[0]!.logIndex);

    // Another session (another step) gets its own certificate.
    const other = await signerWith('job').session().signMessage(Buffer.from('payload'));
    expect(stack.fulcioRequests).toBe(2);
    expect(leafOf(other)).not.toBe(leafOf(message));
  });

  it('signature scope: each signature of a session gets its own certificate', async () => {
    const session = signerWith('signature').session();
    const message = await session.signMessage(Buffer.from('payload'));
    const dsse = await session.signStatement(statement);
    expect(stack.fulcioRequests).toBe(2);
    expect(stack.rekorRequests).toBe(2);
    expect(leafOf(dsse)).not.toBe(leafOf(message));
  });

  it('a signature Rekor logged but whose answers were all lost is submitted again by the next session, not made anew: one entry in the log', async () => {
    stack.rekorLostAnswers = 3;
    const signer = signerWith('job');
    const failed = await signer
      .session('job-1')
      .signMessage(Buffer.from('payload'))
      .catch((error: unknown) => error);
    expect(failed).toMatchObject({ code: 'REKOR_UNAVAILABLE', transient: true });
    expect([stack.fulcioRequests, stack.rekorRequests, stack.rekorCreated]).toEqual([1, 3, 1]);

    // The step's retry: the same signature again (no new certificate), Rekor's 409 answers it with the stored entry.
    const bundle = await signer.session('job-1').signMessage(Buffer.from('payload'));
    expect([stack.fulcioRequests, stack.rekorRequests, stack.rekorCreated]).toEqual([1, 4, 1]);
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);

    // Kept for one retry only: the next signature of the same bytes is a new one.
    await signer.session('job-1').signMessage(Buffer.from('payload'));
    expect([stack.fulcioRequests, stack.rekorCreated]).toEqual([2, 2]);
  });

  it("a signature kept for a job's retry is not used by another job, nor without a job", async () => {
    stack.rekorLostAnswers = 3;
    const signer = signerWith('job');
    await expect(signer.session('job-1').signMessage(Buffer.from('payload'))).rejects.toMatchObject({ code: 'REKOR_UNAVAILABLE' });
    await signer.session('job-2').signMessage(Buffer.from('payload'));
    await signer.signMessage(Buffer.from('payload'));
    expect([stack.fulcioRequests, stack.rekorCreated]).toEqual([3, 3]);
    // job-1's retry still finds its own.
    await signer.session('job-1').signMessage(Buffer.from('payload'));
    expect([stack.fulcioRequests, stack.rekorCreated]).toEqual([3, 3]);
  });

  it('reports Fulcio failures as the coded signing errors, transient or not as before', async () => {
    stack.fulcioStatus = 503;
    const unavailable = await signerWith('job')
      .session()
      .signMessage(Buffer.from('payload'))
      .catch((error: unknown) => error);
    expect(unavailable).toBeInstanceOf(SigstoreError);
    expect(unavailable).toMatchObject({ code: 'FULCIO_UNAVAILABLE', transient: true });

    stack.fulcioStatus = 401;
    const refused = await signerWith('job')
      .session()
      .signStatement(statement)
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SigstoreError);
    expect(refused).toMatchObject({ code: 'FULCIO_REFUSED_IDENTITY', transient: false });
    expect((refused as Error).message).not.toContain(TOKEN);
    expect(stack.rekorRequests).toBe(0);
  });

  it("returns the identity provider's own coded error, with its transient flag and retry delay", async () => {
    const expired = IdentityTokenError.transient('IDENTITY_TOKEN_EXPIRED', 'expired', 10_000);
    const session = signerWith('job', () => Promise.reject(expired)).session();
    await expect(session.signMessage(Buffer.from('payload'))).rejects.toBe(expired);
    expect(expired).toMatchObject({ transient: true, retryAfterMs: 10_000 });
    // A token the service refuses to send (wrong audience) is permanent, and Fulcio never sees it.
    const wrongAudience = `${b64url('{"alg":"RS256"}')}.${b64url(JSON.stringify({ iss: ISSUER, sub: SUBJECT, aud: 'api', exp: 4102444800 }))}.${b64url('sig')}`;
    const error = await signerWith('job', async () => wrongAudience)
      .session()
      .signStatement(statement)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'IDENTITY_TOKEN_WRONG_AUDIENCE', transient: false });
    expect(stack.fulcioRequests).toBe(0);
  });

  it('a failed first signature leaves the session usable: the next one gets the certificate', async () => {
    const session = signerWith('job').session();
    stack.fulcioStatus = 503;
    await expect(session.signMessage(Buffer.from('payload'))).rejects.toMatchObject({ code: 'FULCIO_UNAVAILABLE' });
    const failedAsks = stack.fulcioRequests;
    stack.fulcioStatus = undefined;
    const message = await session.signMessage(Buffer.from('payload'));
    const dsse = await session.signStatement(statement);
    expect(stack.fulcioRequests).toBe(failedAsks + 1);
    expect(leafOf(dsse)).toBe(leafOf(message));
  });
});
