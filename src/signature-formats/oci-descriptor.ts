import type { OciDescriptor } from '../registry/oci-media-types';

/**
 * A descriptor with its keys in the order go-containerregistry (cosign) writes them, annotations
 * sorted by key as Go marshals maps: so what this service writes reads the same as what cosign writes.
 */
export function orderedDescriptor(descriptor: OciDescriptor): OciDescriptor {
  return {
    mediaType: descriptor.mediaType,
    size: descriptor.size,
    digest: descriptor.digest,
    ...(descriptor.annotations ? { annotations: sortedRecord(descriptor.annotations) } : {}),
    ...(descriptor.artifactType ? { artifactType: descriptor.artifactType } : {}),
  };
}

export function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((key) => [key, record[key]!]),
  );
}
