import { type KeyObject, generateKeyPairSync, sign as signBytes } from 'node:crypto';
import { X509Certificate } from '@sigstore/core';
import { FulcioSigner, type FulcioSignerOptions, type Signature, type Signer } from '@sigstore/sign';

/**
 * A certificate is not used for another signature when it expires within this time: the signature's
 * Rekor entry (and TSA timestamp) must fall inside the certificate's validity, and Rekor may take a few
 * retries with 30 s deadlines to answer. Fulcio's certificates live 10 minutes.
 */
export const CERTIFICATE_RENEWAL_MARGIN_MS = 2 * 60_000;

/**
 * An ECDSA P-256 key pair held in memory only, for one signing session: the key holder FulcioSigner is
 * given, kept here so that later signatures can be made with the key Fulcio certified.
 *
 * Written here rather than reused because @sigstore/sign's EphemeralSigner (the same few lines: P-256,
 * SHA-256, a DER signature, the public key as SPKI PEM) is not exported from the package, and FulcioSigner
 * keeps its key holder private. The private key stays in a private field of this object: it is never
 * exported, persisted or logged, and is gone with the session.
 */
class EphemeralKey implements Signer {
  readonly #privateKey: KeyObject;
  readonly #publicKeyPem: string;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#privateKey = privateKey;
    this.#publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  }

  async sign(data: Buffer): Promise<Signature> {
    return { signature: signBytes('sha256', data, this.#privateKey), key: { $case: 'publicKey', publicKey: this.#publicKeyPem } };
  }
}

interface Certified {
  key: EphemeralKey;
  /** PEM of the leaf, as FulcioSigner returns it. */
  certificate: string;
  notAfterMs: number;
}

export interface FulcioSessionSignerOptions {
  /** Time source (tests move it forward). */
  now?: () => number;
  renewalMarginMs?: number;
}

/**
 * The signer of one job step, as cosign signs within one invocation: the first signature fetches one
 * identity token and one Fulcio certificate for a fresh ephemeral key (through FulcioSigner, which makes
 * the proof of possession and the request), and every later signature of the session is made with that
 * key and carries that certificate, until the certificate is within `renewalMarginMs` of its expiry: then
 * the next signature gets a new key and certificate. Signatures are made one at a time, so concurrent
 * callers never ask Fulcio twice. A failed certification is not kept: the next signature asks again.
 * Errors are FulcioSigner's own (InternalError with its codes), for the caller's classification.
 */
export class FulcioSessionSigner implements Signer {
  #certified: Certified | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;
  private readonly renewalMarginMs: number;

  constructor(
    private readonly fulcio: Omit<FulcioSignerOptions, 'keyHolder'>,
    options: FulcioSessionSignerOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.renewalMarginMs = options.renewalMarginMs ?? CERTIFICATE_RENEWAL_MARGIN_MS;
  }

  sign(data: Buffer): Promise<Signature> {
    const signed = this.#queue.then(() => this.signNow(data));
    this.#queue = signed.catch(() => undefined);
    return signed;
  }

  private async signNow(data: Buffer): Promise<Signature> {
    const held = this.#certified;
    if (held && held.notAfterMs - this.now() > this.renewalMarginMs) {
      const { signature } = await held.key.sign(data);
      return { signature, key: { $case: 'x509Certificate', certificate: held.certificate } };
    }
    this.#certified = undefined;
    const key = new EphemeralKey();
    const signature = await new FulcioSigner({ ...this.fulcio, keyHolder: key }).sign(data);
    if (signature.key.$case === 'x509Certificate') {
      this.#certified = { key, certificate: signature.key.certificate, notAfterMs: notAfterMs(signature.key.certificate) };
    }
    return signature;
  }
}

/** The certificate's notAfter; one that cannot be read is not reused (its own signature is still checked against the trust root). */
export function notAfterMs(certificatePem: string): number {
  try {
    return X509Certificate.parse(certificatePem).notAfter.getTime();
  } catch {
    return 0;
  }
}
