import type { SignerPolicy, StringMatcher } from '../sigstore/signer-policy';

/** A matcher as plain data (a compiled pattern by its source), for memo keys. */
export function matcherKey(matcher: StringMatcher): [string, string] {
  return [matcher.kind, matcher.kind === 'exact' ? matcher.value : matcher.source];
}

/** A signer policy as plain data, for the keys under which verification outcomes are memoized. */
export function signerPolicyKey(signer: SignerPolicy): unknown[] {
  return signer.kind === 'public-key' ? ['key', signer.publicKeyPem] : ['cert', ...matcherKey(signer.identity), ...matcherKey(signer.issuer)];
}

const trustMaterialSerials = new WeakMap<object, number>();
let nextTrustMaterialSerial = 0;

/**
 * A trust root for memo keys: its name and which loading of it (each load makes new material), so that
 * a trust root reloaded with other contents never meets an outcome judged with the old one.
 */
export function trustMaterialKey(trust: { name: string; material: object }): [string, number] {
  let serial = trustMaterialSerials.get(trust.material);
  if (serial === undefined) {
    serial = ++nextTrustMaterialSerial;
    trustMaterialSerials.set(trust.material, serial);
  }
  return [trust.name, serial];
}
