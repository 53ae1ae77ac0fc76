import { sanitizeLayerTitle } from '../artifacts/oci-wasm-layout';
import { writeWasmArtifact } from '../artifacts/write-wasm-artifact';
import { type WasmInspection, WasmInspector } from '../wasm/wasm-inspector';
import { OCI_MANIFEST_MEDIA_TYPE } from '../registry/oci-media-types';
import { type OciRepository, dockerReference } from '../registry/oci-reference';
import type { RegistryClient } from '../registry/registry-client';

/** The service's default MAX_UPLOAD_BYTES: the largest .wasm accepted unless told otherwise. */
export const DEFAULT_MAX_WASM_BYTES = 256 * 1024 * 1024;

/** A .wasm file that reached the registry as a blob, checked as it streamed past. */
export interface UploadedWasm {
  /** `sha256:<hex>` of the file. */
  digest: string;
  size: number;
  /** Core module or component, and a component's top-level imports and exports. */
  inspection: WasmInspection;
}

/** A wasm artifact (oci-wasm layout) in the registry: its manifest, by digest and optionally by tag. */
export interface PublishedArtifact {
  repository: OciRepository;
  manifestDigest: string;
  manifestMediaType: string;
  manifestSize: number;
  wasmDigest: string;
  tag?: string;
}

export interface UploadWasmOptions {
  /** Larger files fail (and the upload is cancelled). Defaults to DEFAULT_MAX_WASM_BYTES. */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface PublishArtifactOptions {
  tag?: string;
  /** Manifest annotations; `org.opencontainers.image.created` comes from `created`. */
  annotations?: Record<string, string>;
  /** The layer's file name; defaults to the repository's last path segment. */
  title?: string;
  /** Defaults to now, to the second. */
  created?: Date;
  signal?: AbortSignal;
}

/**
 * Streams a .wasm file into the registry as a blob while checking that it is a valid core module or
 * component (as `POST /v1/artifacts` does): an invalid or too large file is never committed.
 */
export async function uploadWasm(
  registry: RegistryClient,
  repository: OciRepository,
  wasm: Uint8Array | AsyncIterable<Uint8Array>,
  options: UploadWasmOptions = {},
): Promise<UploadedWasm> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_WASM_BYTES;
  const inspector = new WasmInspector({ maxBytes });
  const source = wasm instanceof Uint8Array ? oneChunk(wasm) : wasm;
  const blob = await registry.pushBlobStream(repository, source, {
    maxBytes,
    signal: options.signal,
    onChunk: (chunk) => inspector.push(chunk),
    beforeCommit: () => void inspector.finish(),
  });
  return { ...blob, inspection: inspector.finish() };
}

/**
 * Publishes an uploaded .wasm as an oci-wasm artifact, as the service's push step does: the layer is
 * checked to be there, then the wasm config, the manifest by digest and, when given, the tag are written.
 * The same input gives the same bytes, so a repeated call is harmless.
 */
export async function publishArtifact(registry: RegistryClient, repository: OciRepository, wasm: UploadedWasm, options: PublishArtifactOptions = {}): Promise<PublishedArtifact> {
  const { signal } = options;
  // Registries and the OCI annotation keep seconds; the service does the same.
  const created = new Date(Math.floor((options.created ?? new Date()).getTime() / 1000) * 1000);
  const layer = await registry.blobExists(repository, wasm.digest, { signal });
  if (!layer.exists) throw new Error(`the .wasm blob ${wasm.digest} is not in ${dockerReference(repository)}; upload it first`);
  const { manifest } = await writeWasmArtifact(
    registry,
    repository,
    { wasm, title: sanitizeLayerTitle(options.title ?? repository.repository.split('/').pop()!), created, annotations: options.annotations ?? {}, tag: options.tag },
    signal,
  );
  return { repository, manifestDigest: manifest.digest, manifestMediaType: OCI_MANIFEST_MEDIA_TYPE, manifestSize: manifest.size, wasmDigest: wasm.digest, tag: options.tag };
}

/** Bytes held in memory, as the stream source an HTTP request body would be. */
async function* oneChunk(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}
