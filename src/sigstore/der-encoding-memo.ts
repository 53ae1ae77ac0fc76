import { ASN1Obj } from '@sigstore/core';

/**
 * @sigstore/core re-encodes an ASN.1 object to DER on every `toDER()` call
 * (sigstore-js packages/core/src/asn1/obj.ts: a fresh ByteStream per object, recursively), and
 * X509Certificate calls it all the time: `verify()` encodes the TBS certificate and the issuer's
 * subjectPublicKeyInfo, `equals()` the whole of both certificates. @sigstore/verify's
 * CertificateChainVerifier (packages/verify/src/key/certificate.ts) compares every certificate of the
 * trusted chain with every other and with the leaf while it builds paths, so one bundle verification
 * re-encodes the same trusted certificates dozens of times: measured here, over a third of the CPU of a
 * verification went to these buffers.
 *
 * The patch: remember each object's encoding. ASN1Obj has no setters and nothing in sigstore-js changes
 * `tag`, `value` or `subs` after parsing, so the encoding of an object never changes; the memo holds
 * exactly what the original method returned (callers only read it: compare, hash, copy into a stream).
 * Entries live as long as their object (WeakMap).
 *
 * Installed only where the service verifies (its verification worker threads), never by merely
 * importing the library surface: a program that embeds it keeps @sigstore/core as published.
 */
const MEMOIZED = Symbol.for('wasm-signer.der-encoding-memo');

export function memoizeDerEncoding(asn1Obj: { prototype: { toDER(): Buffer } } = ASN1Obj): void {
  const prototype = asn1Obj.prototype as { toDER(): Buffer; [MEMOIZED]?: true };
  if (prototype[MEMOIZED]) return;
  const encode = prototype.toDER;
  const encodings = new WeakMap<object, Buffer>();
  prototype.toDER = function memoizedToDER(this: object): Buffer {
    let der = encodings.get(this);
    if (der === undefined) {
      der = encode.call(this);
      encodings.set(this, der);
    }
    return der;
  };
  prototype[MEMOIZED] = true;
}

/** Whether memoizeDerEncoding has been installed on the ASN1Obj that @sigstore/verify uses. */
export function derEncodingMemoized(asn1Obj: { prototype: object } = ASN1Obj): boolean {
  return (asn1Obj.prototype as { [MEMOIZED]?: true })[MEMOIZED] === true;
}
