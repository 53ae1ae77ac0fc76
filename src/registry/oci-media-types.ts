import { createHash } from 'node:crypto';

/** Media types and content shapes of the OCI image and distribution specifications that the registry client speaks. */

export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.list.v2+json';

/** Every manifest media type this service reads; pass it as `accept` when any kind of manifest will do. */
export const ALL_MANIFEST_MEDIA_TYPES: readonly string[] = [OCI_MANIFEST_MEDIA_TYPE, OCI_INDEX_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_LIST_MEDIA_TYPE];

export interface OciDescriptor {
  mediaType: string;
  size: number;
  digest: string;
  annotations?: Record<string, string>;
  artifactType?: string;
}

export interface OciIndex {
  schemaVersion: 2;
  mediaType: typeof OCI_INDEX_MEDIA_TYPE;
  manifests: OciDescriptor[];
  [field: string]: unknown;
}

const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

export const isSha256Digest = (value: string): boolean => SHA256_DIGEST.test(value);

export const sha256Digest = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** The CNCF oci-wasm layout (what wkg and wasmCloud read): the config and the one layer of a wasm artifact. */
export const WASM_CONFIG_MEDIA_TYPE = 'application/vnd.wasm.config.v0+json';
export const WASM_LAYER_MEDIA_TYPE = 'application/wasm';
