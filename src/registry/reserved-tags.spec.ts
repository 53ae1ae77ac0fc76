import { cosignSignatureTag } from '../signature-formats/cosign-classic-signature';
import { referrersTag } from './referrers-tag-fallback';
import { isReservedTag, reservedTagReason } from './reserved-tags';

const HEX = '0123456789abcdef'.repeat(4);
const DIGEST = `sha256:${HEX}`;

describe('reserved tags', () => {
  it('covers the tags the signing path itself derives from a digest', () => {
    expect(isReservedTag(cosignSignatureTag(DIGEST))).toBe(true);
    expect(isReservedTag(referrersTag(DIGEST))).toBe(true);
  });

  it.each([
    [`sha256-${HEX}`, 'the referrers tag fallback index'],
    [`sha256-${HEX}.sig`, 'cosign signatures'],
    [`sha256-${HEX}.att`, 'cosign attestations'],
    [`sha256-${HEX}.sbom`, 'cosign SBOMs'],
    [`sha256-${HEX}.anything-else`, 'any other suffix'],
    [`sha384-${'a'.repeat(96)}.sig`, 'sha384'],
    [`sha512-${'b'.repeat(64)}`, 'sha512 truncated to fit a tag'],
    [`SHA256-${HEX.toUpperCase()}.SIG`, 'another letter case'],
    ['sha256-abc', 'a short hex part'],
    ['sha256-abc.', 'an empty suffix'],
  ])('reserves %s (%s)', (tag) => {
    expect(isReservedTag(tag)).toBe(true);
    expect(reservedTagReason(tag)).toMatch(/is derived from the digest sha(256|384|512):[0-9a-f]+; tags of the form <alg>-<hex>/);
  });

  it.each([
    ['v1.0.0'],
    ['latest'],
    ['sha256'],
    ['sha256-'],
    ['sha256-xyz'],
    ['sha256-abc-def'],
    ['sha256_abc'],
    ['sha1-abcdef'],
    ['md5-abcdef.sig'],
    [`v-sha256-${HEX}.sig`],
    [`build-sha256-${HEX}`],
  ])('leaves %s to callers', (tag) => {
    expect(isReservedTag(tag)).toBe(false);
    expect(reservedTagReason(tag)).toBeUndefined();
  });

  it('names the digest the tag belongs to', () => {
    expect(reservedTagReason(`sha256-${HEX}.sig`)).toContain(`derived from the digest ${DIGEST};`);
  });
});
