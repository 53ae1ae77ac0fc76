/**
 * Tags that tools derive from a manifest digest, and that therefore belong to that manifest: cosign
 * writes its signatures, attestations and SBOMs under `sha256-<hex>.sig`, `.att` and `.sbom`, and the
 * OCI 1.1 referrers tag schema lists a manifest's referrers (our Sigstore bundles) in an index tagged
 * `sha256-<hex>`. A caller who could push under such a tag would overwrite another artifact's signatures
 * or bundle index, so callers may not: only the signing path writes them. Pure, no I/O.
 *
 * The rule, precisely: a tag is reserved when it is `<alg>-<hex>` or `<alg>-<hex>.<suffix>`, where
 * `<alg>` is sha256, sha384 or sha512, `<hex>` is one or more hexadecimal digits and `<suffix>` is
 * anything a tag may hold; letter case does not matter. The hex part has no fixed length, so that digests
 * truncated to fit the 128-character tag limit (the referrers schema truncates) and suffixes cosign may
 * add later are covered too.
 */

const RESERVED_TAG = /^(?:sha256|sha384|sha512)-[0-9a-f]+(?:\..*)?$/i;

/** The rule in words, for problem details and documentation. */
export const RESERVED_TAG_RULE =
  'tags of the form <alg>-<hex> or <alg>-<hex>.<suffix> (alg sha256, sha384 or sha512, any letter case) are reserved: ' +
  'cosign and the OCI referrers tag fallback derive them from a manifest digest (sha256-<hex>.sig, .att, .sbom; sha256-<hex>), ' +
  'and only the signing path writes them';

export const isReservedTag = (tag: string): boolean => RESERVED_TAG.test(tag);

/** Why `tag` may not be chosen by a caller, or undefined when it may. */
export function reservedTagReason(tag: string): string | undefined {
  if (!isReservedTag(tag)) return undefined;
  const suffix = tag.indexOf('.');
  const derivedFrom = (suffix === -1 ? tag : tag.slice(0, suffix)).replace('-', ':');
  return `tag ${JSON.stringify(tag)} is derived from the digest ${derivedFrom.toLowerCase()}; ${RESERVED_TAG_RULE}`;
}
