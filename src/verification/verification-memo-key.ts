import type { SignerPolicy, StringMatcher } from '../sigstore/signer-policy';

/** A matcher as plain data (a compiled pattern by its source), for memo keys. */
export function matcherKey(matcher: StringMatcher): [string, string] {
  return [matcher.kind, matcher.kind === 'exact' ? matcher.value : matcher.source];
}

/** A signer policy as plain data, for the keys under which verification outcomes are memoized. */
export function signerPolicyKey(signer: SignerPolicy): unknown[] {
  return signer.kind === 'public-key' ? ['key', signer.publicKeyPem] : ['cert', ...matcherKey(signer.identity), ...matcherKey(signer.issuer)];
}
