import { OCI_INDEX_MEDIA_TYPE, OciDescriptor, OciIndex, sha256Digest } from './oci-media-types';

/**
 * The OCI 1.1 "referrers tag schema": on a registry without the referrers API, the manifests that refer
 * to a subject are listed in an image index tagged `sha256-<subject hex>` in the same repository. Pure
 * functions over that index; the registry client does the reading and writing.
 */

/** `sha256:<hex>` → `sha256-<hex>`. */
export function referrersTag(subjectDigest: string): string {
  return subjectDigest.replace(':', '-');
}

export function emptyReferrersIndex(): OciIndex {
  return { schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: [] };
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

const isDescriptor = (value: unknown): value is OciDescriptor =>
  isRecord(value) &&
  typeof value.mediaType === 'string' &&
  typeof value.digest === 'string' &&
  typeof value.size === 'number' &&
  (value.artifactType === undefined || typeof value.artifactType === 'string') &&
  (value.annotations === undefined || isRecord(value.annotations));

/**
 * Reads an OCI image index; undefined when the bytes are not one (not JSON, another media type, or
 * malformed descriptors). `contentType` is the media type the registry announced, if any.
 */
export function parseOciIndex(bytes: Uint8Array, contentType?: string): OciIndex | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || parsed.schemaVersion !== 2 || !Array.isArray(parsed.manifests)) return undefined;
  const mediaType = parsed.mediaType ?? contentType;
  if (mediaType !== OCI_INDEX_MEDIA_TYPE) return undefined;
  if (!parsed.manifests.every(isDescriptor)) return undefined;
  return { ...parsed, schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: parsed.manifests };
}

/** What the index lists about a referring manifest, and the subject the manifest names. */
export interface ReferrerEntry {
  descriptor: OciDescriptor;
  subjectDigest: string | undefined;
}

/**
 * The index descriptor of a referring manifest: its media type, size and digest, its annotations, and
 * its artifact type: the one given, else the manifest's `artifactType`, else its config media type (as
 * the distribution spec prescribes for image manifests). Keys in the order go-containerregistry writes.
 */
export function referrerEntry(manifestBytes: Uint8Array, mediaType: string, artifactType?: string): ReferrerEntry | undefined {
  let manifest: unknown;
  try {
    manifest = JSON.parse(Buffer.from(manifestBytes).toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(manifest)) return undefined;
  const effectiveArtifactType =
    artifactType ??
    (typeof manifest.artifactType === 'string' ? manifest.artifactType : undefined) ??
    (isRecord(manifest.config) && typeof manifest.config.mediaType === 'string' ? manifest.config.mediaType : undefined);
  const annotations = isRecord(manifest.annotations) ? stringRecord(manifest.annotations) : undefined;
  const descriptor: OciDescriptor = {
    mediaType,
    size: manifestBytes.byteLength,
    digest: sha256Digest(manifestBytes),
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
    ...(effectiveArtifactType ? { artifactType: effectiveArtifactType } : {}),
  };
  const subject = isRecord(manifest.subject) && typeof manifest.subject.digest === 'string' ? manifest.subject.digest : undefined;
  return { descriptor, subjectDigest: subject };
}

/** Annotations with string values, keys sorted (as Go marshals maps). */
function stringRecord(record: Record<string, unknown>): Record<string, string> {
  const entries = Object.entries(record).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The index with `descriptor` appended, or undefined when it already lists that digest. */
export function withReferrer(index: OciIndex, descriptor: OciDescriptor): OciIndex | undefined {
  if (index.manifests.some((entry) => entry.digest === descriptor.digest)) return undefined;
  return { ...index, manifests: [...index.manifests, descriptor] };
}

export function filterByArtifactType(index: OciIndex, artifactType: string | undefined): OciIndex {
  if (artifactType === undefined) return index;
  return { ...index, manifests: index.manifests.filter((entry) => entry.artifactType === artifactType) };
}

/** Compact JSON, `schemaVersion`, `mediaType`, `manifests` first, other fields of a read index kept after them. */
export function serializeOciIndex(index: OciIndex): Buffer {
  const { schemaVersion, mediaType, manifests, ...rest } = index;
  return Buffer.from(JSON.stringify({ schemaVersion, mediaType, manifests, ...rest }));
}
