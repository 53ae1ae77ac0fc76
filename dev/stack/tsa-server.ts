import { join } from 'node:path';
import { X509Certificate, pem } from '@sigstore/core';
// Deep imports on purpose: the package root also loads nock, which patches node:http for the whole process.
import { initializeTSA, tsaHandler } from '@sigstore/mock/dist/timestamp';
import type { TimestampRequest, TSA } from '@sigstore/mock/dist/timestamp/tsa';
import { createFileExclusive, readFileIfExists, writeFileAtomic } from '../../src/common/atomic-file';
import { HttpService, type HttpRequest, type HttpResponse } from './http-service';
import { loadOrCreateKeyPair, type Bytes, type StoredKeyPair } from './key-material';
import { TSA_TIMESTAMP_PATH } from './stack-config';

export const TSA_CERT_CHAIN_PATH = '/api/v1/timestamp/certchain';

const CHAIN_RENEWAL_MARGIN_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * The local timestamp authority: @sigstore/mock's TSA and request handler with two mended faults.
 *
 * 1. Fractional seconds. The mock stamps `genTime` with the current time in milliseconds, and the
 *    ASN.1 encoder drops trailing zeros of the fraction, so one timestamp in ten carries a 1- or
 *    2-digit fraction (".5Z", ".12Z"). @sigstore/core only parses GeneralizedTime with no fraction or
 *    exactly three digits, so those timestamps fail with "invalid time" when a bundle is verified.
 *    The mock reads the time from the `clock` Date given to `initializeTSA` whenever it stamps, so
 *    this wrapper owns that Date and sets it to the current whole second before each (serialised)
 *    request: every genTime is then "YYYYMMDDhhmmssZ".
 * 2. Stable trust. `initializeTSA` issues a new root and signing certificate on every call. They
 *    always share the TSA key, names and serial numbers, so timestamps signed after a restart still
 *    verify against the chain created first, which is kept on disk and published in trusted_root.json.
 *    (Only the ESSCertIDv2 hash in the signed attributes names the regenerated certificate; sigstore-js
 *    and sigstore's timestamp-authority verifier match the signer by issuer and serial number.)
 */
export class LocalTimestampAuthority implements TSA {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly mock: TSA,
    private readonly clock: Date,
    private readonly now: () => Date,
    /** DER certificates: [signing certificate, root]. */
    readonly chain: readonly Bytes[],
    readonly key: StoredKeyPair,
  ) {}

  static async open(dir: string, now: () => Date = () => new Date()): Promise<LocalTimestampAuthority> {
    const key = await loadOrCreateKeyPair(join(dir, 'signing-key.json'));
    const clock = new Date(wholeSecond(now()));
    const mock = await initializeTSA(key, clock);
    const chain = await persistedChain(join(dir, 'chain.pem'), key, [toBuffer(mock.intCertificate), toBuffer(mock.rootCertificate)], now());
    return new LocalTimestampAuthority(mock, clock, now, chain, key);
  }

  get intCertificate(): Bytes {
    return this.chain[0]!;
  }

  get rootCertificate(): Bytes {
    return this.chain[1]!;
  }

  /** A TimeStampResp (DER) whose genTime has whole seconds. */
  timestamp(request: TimestampRequest): Promise<Bytes> {
    const run = this.queue.then(async () => {
      this.clock.setTime(wholeSecond(this.now()));
      return toBuffer(await this.mock.timestamp(request));
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  createHttpService(isReady?: () => boolean, onError?: (error: unknown) => void): HttpService {
    const handler = tsaHandler(this);
    return new HttpService({
      name: 'tsa',
      isReady,
      onError,
      maxBodyBytes: 64 * 1024,
      routes: [
        { method: 'POST', path: TSA_TIMESTAMP_PATH, handler: (request) => this.handleTimestamp(request, handler.fn) },
        {
          method: 'GET',
          path: TSA_CERT_CHAIN_PATH,
          handler: () => ({ status: 200, body: this.chain.map((der) => pem.fromDER(der)).join(''), contentType: 'application/pem-certificate-chain' }),
        },
      ],
    });
  }

  private async handleTimestamp(request: HttpRequest, fn: ReturnType<typeof tsaHandler>['fn']): Promise<HttpResponse> {
    const contentType = String(request.headers['content-type'] ?? '');
    if (!contentType.includes('application/json')) {
      return {
        status: 415,
        body: 'the local TSA accepts JSON timestamp requests ({"artifactHash":"<b64>","hashAlgorithm":"sha256"}) only\n',
        contentType: 'text/plain',
      };
    }
    const result = await fn((await request.body()).toString('utf8'));
    const body = typeof result.response === 'string' ? result.response : toBuffer(result.response);
    return { status: result.statusCode, body, contentType: result.contentType ?? 'text/plain' };
  }
}

async function persistedChain(file: string, key: StoredKeyPair, fresh: Bytes[], now: Date): Promise<Bytes[]> {
  const existing = await readFileIfExists(file);
  if (existing) {
    const chain = splitPem(existing.toString('utf8'));
    const usable =
      chain.length === 2 &&
      chain.every((der) => {
        const cert = X509Certificate.parse(der);
        return cert.publicKey.equals(key.publicKeyDer) && cert.notAfter.getTime() - now.getTime() > CHAIN_RENEWAL_MARGIN_MS;
      });
    if (usable) return chain;
    await writeFileAtomic(file, fresh.map((der) => pem.fromDER(der)).join(''));
    return fresh;
  }
  if (await createFileExclusive(file, fresh.map((der) => pem.fromDER(der)).join(''))) return fresh;
  const winner = await readFileIfExists(file);
  if (!winner) throw new Error(`${file} vanished while it was being created`);
  return splitPem(winner.toString('utf8'));
}

function splitPem(text: string): Bytes[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => pem.toDER(block));
}

function wholeSecond(date: Date): number {
  return Math.floor(date.getTime() / 1000) * 1000;
}

function toBuffer(view: ArrayBufferView<ArrayBuffer>): Bytes {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}
