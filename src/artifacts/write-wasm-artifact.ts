import { OCI_MANIFEST_MEDIA_TYPE } from '../registry/oci-media-types';
import type { OciRepository } from '../registry/oci-reference';
import type { RegistryClient } from '../registry/registry-client';
import { type OciBlob, type WasmConfigJson, type WasmManifestJson, buildWasmConfig, buildWasmManifest } from './oci-wasm-layout';
import type { WasmInspection } from '../wasm/wasm-inspector';

export interface WasmArtifactInput {
  /** The .wasm already in the repository as a blob. */
  wasm: { digest: string; size: number; inspection: WasmInspection };
  /** The layer's file name (sanitised). */
  title: string;
  created: Date;
  annotations: Record<string, string>;
  tag?: string | null;
}

/**
 * Writes an uploaded .wasm as an oci-wasm artifact: the wasm config, the manifest by digest, then the
 * tag. The same input gives the same bytes, so writing again is harmless (the push step's retries rely
 * on it). The caller checks first that the layer blob is there.
 */
export async function writeWasmArtifact(
  registry: RegistryClient,
  repository: OciRepository,
  input: WasmArtifactInput,
  signal?: AbortSignal,
): Promise<{ config: OciBlob<WasmConfigJson>; manifest: OciBlob<WasmManifestJson> }> {
  const config = buildWasmConfig({ inspection: input.wasm.inspection, wasmDigest: input.wasm.digest, created: input.created });
  const manifest = buildWasmManifest({
    config,
    layer: { digest: input.wasm.digest, size: input.wasm.size, title: input.title },
    created: input.created,
    annotations: input.annotations,
  });
  await registry.pushBlob(repository, config.digest, config.bytes, { signal });
  await registry.putManifest(repository, manifest.digest, OCI_MANIFEST_MEDIA_TYPE, manifest.bytes, { signal });
  if (input.tag) await registry.putManifest(repository, input.tag, OCI_MANIFEST_MEDIA_TYPE, manifest.bytes, { signal });
  return { config, manifest };
}
