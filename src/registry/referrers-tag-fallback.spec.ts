import { OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, sha256Digest } from './oci-media-types';
import { emptyReferrersIndex, filterByArtifactType, parseOciIndex, referrerEntry, referrersTag, serializeOciIndex, withReferrer } from './referrers-tag-fallback';

const SUBJECT = `sha256:${'b'.repeat(64)}`;
const BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

const manifest = (extra: Record<string, unknown>) =>
  Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: `sha256:${'4'.repeat(64)}` },
      layers: [],
      ...extra,
    }),
  );

describe('referrers tag fallback', () => {
  it('names the tag sha256-<hex>', () => {
    expect(referrersTag(SUBJECT)).toBe(`sha256-${'b'.repeat(64)}`);
  });

  it('describes a referrer with artifact type, sorted annotations and its subject', () => {
    const bytes = manifest({ artifactType: BUNDLE, annotations: { z: '1', a: '2', n: 3 }, subject: { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: SUBJECT, size: 1 } });
    const entry = referrerEntry(bytes, OCI_MANIFEST_MEDIA_TYPE)!;
    expect(entry.subjectDigest).toBe(SUBJECT);
    expect(JSON.stringify(entry.descriptor)).toBe(
      JSON.stringify({ mediaType: OCI_MANIFEST_MEDIA_TYPE, size: bytes.length, digest: sha256Digest(bytes), annotations: { a: '2', z: '1' }, artifactType: BUNDLE }),
    );
  });

  it('takes the artifact type given, else the manifest, else the config media type', () => {
    expect(referrerEntry(manifest({ artifactType: BUNDLE }), OCI_MANIFEST_MEDIA_TYPE, 'x/given')!.descriptor.artifactType).toBe('x/given');
    expect(referrerEntry(manifest({}), OCI_MANIFEST_MEDIA_TYPE)!.descriptor.artifactType).toBe('application/vnd.oci.empty.v1+json');
    expect(referrerEntry(manifest({}), OCI_MANIFEST_MEDIA_TYPE)!.descriptor.annotations).toBeUndefined();
    expect(referrerEntry(Buffer.from('nope'), OCI_MANIFEST_MEDIA_TYPE)).toBeUndefined();
  });

  it('appends once, keeps what was there, and serializes in the expected shape', () => {
    const first = { mediaType: OCI_MANIFEST_MEDIA_TYPE, size: 10, digest: `sha256:${'1'.repeat(64)}`, artifactType: BUNDLE };
    const second = { mediaType: OCI_MANIFEST_MEDIA_TYPE, size: 11, digest: `sha256:${'2'.repeat(64)}`, artifactType: 'x/other' };
    const one = withReferrer(emptyReferrersIndex(), first)!;
    expect(withReferrer(one, first)).toBeUndefined();
    const two = withReferrer(one, second)!;
    expect(serializeOciIndex(two).toString()).toBe(`{"schemaVersion":2,"mediaType":"${OCI_INDEX_MEDIA_TYPE}","manifests":[${JSON.stringify(first)},${JSON.stringify(second)}]}`);
    expect(filterByArtifactType(two, BUNDLE).manifests).toEqual([first]);
    expect(filterByArtifactType(two, undefined).manifests).toHaveLength(2);
  });

  it('reads an index, keeping unknown fields, and refuses what is not one', () => {
    const text = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: [], annotations: { k: 'v' } });
    const index = parseOciIndex(Buffer.from(text))!;
    expect(index.annotations).toEqual({ k: 'v' });
    expect(serializeOciIndex(index).toString()).toBe(text);
    expect(parseOciIndex(Buffer.from('{"schemaVersion":2,"manifests":[]}'), OCI_INDEX_MEDIA_TYPE)).toBeDefined();
    expect(parseOciIndex(Buffer.from('{"schemaVersion":2,"manifests":[]}'))).toBeUndefined();
    expect(parseOciIndex(manifest({}))).toBeUndefined();
    expect(parseOciIndex(Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":1}]}'))).toBeUndefined();
    expect(parseOciIndex(Buffer.from('<html>'))).toBeUndefined();
  });
});
