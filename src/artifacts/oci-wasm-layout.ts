/**
 * The OCI artifact layout for WebAssembly that `wkg` and wasmCloud read (the CNCF "oci-wasm"
 * layout, as bytecodealliance/rust-oci-wasm writes it): an image manifest whose config is a
 * `application/vnd.wasm.config.v0+json` document and whose only layer is the `.wasm` file.
 *
 * Builds the exact bytes to push. Keys are in a fixed order and the JSON is compact, so the same
 * input always gives the same bytes and digests.
 */
import { OCI_MANIFEST_MEDIA_TYPE, WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE, sha256Digest } from '../registry/oci-media-types';
import type { WasmInspection } from '../wasm/wasm-inspector';

export const ANNOTATION_TITLE = 'org.opencontainers.image.title';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';

/** Title used when nothing usable is left of the given name. */
const FALLBACK_TITLE_STEM = 'component';
/** Longest title: a file name on common file systems. */
const MAX_TITLE_LENGTH = 255;
const WASM_EXTENSION = '.wasm';

const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Serialized JSON with its digest and size, ready to upload. */
export interface OciBlob<T> {
  bytes: Buffer;
  /** `sha256:<hex>` of `bytes`. */
  digest: string;
  size: number;
  json: T;
}

/** The config document, keys in the order rust-oci-wasm serializes them. */
export interface WasmConfigJson {
  created: string;
  author: string | null;
  architecture: 'wasm';
  os: WasmInspection['os'];
  layerDigests: string[];
  /** Required by wkg for `wasip2`. rust-oci-wasm writes `null` for a core module. */
  component: { exports: string[]; imports: string[]; target: string | null } | null;
}

export interface OciDescriptorJson {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface WasmManifestJson {
  schemaVersion: 2;
  mediaType: typeof OCI_MANIFEST_MEDIA_TYPE;
  config: OciDescriptorJson;
  layers: [OciDescriptorJson];
  annotations: Record<string, string>;
}

export interface WasmConfigInput {
  inspection: WasmInspection;
  /** `sha256:<hex>` of the .wasm file. */
  wasmDigest: string;
  created: Date;
  author?: string | null;
}

export interface WasmManifestInput {
  config: { digest: string; size: number };
  layer: { digest: string; size: number; title: string };
  created: Date;
  /** Extra manifest annotations; `org.opencontainers.image.created` comes from `created`. */
  annotations?: Record<string, string>;
}

export function buildWasmConfig(input: WasmConfigInput): OciBlob<WasmConfigJson> {
  const { inspection } = input;
  assertDigest(input.wasmDigest, 'wasmDigest');
  const json: WasmConfigJson = {
    created: rfc3339Seconds(input.created),
    author: input.author ?? null,
    architecture: 'wasm',
    os: inspection.os,
    layerDigests: [input.wasmDigest],
    component: inspection.kind === 'component' ? { exports: [...inspection.exports], imports: [...inspection.imports], target: null } : null,
  };
  return serialize(json);
}

export function buildWasmManifest(input: WasmManifestInput): OciBlob<WasmManifestJson> {
  assertDescriptor(input.config, 'config');
  assertDescriptor(input.layer, 'layer');
  const json: WasmManifestJson = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: { mediaType: WASM_CONFIG_MEDIA_TYPE, digest: input.config.digest, size: input.config.size },
    layers: [
      {
        mediaType: WASM_LAYER_MEDIA_TYPE,
        digest: input.layer.digest,
        size: input.layer.size,
        annotations: { [ANNOTATION_TITLE]: input.layer.title },
      },
    ],
    annotations: manifestAnnotations(input.created, input.annotations ?? {}),
  };
  return serialize(json);
}

/**
 * A file name for the layer's `org.opencontainers.image.title` annotation (the name `wkg oci pull`
 * and `oras pull` write the file under), from a file name or, when none was given, from a
 * repository (`registry.example/ns/hello-http` → `hello-http.wasm`). Keeps the last path segment,
 * turns every run of characters other than `A-Z a-z 0-9 . _ -` into one `-`, never starts with a
 * dot or dash, and ends with `.wasm`.
 */
export function sanitizeLayerTitle(name: string): string {
  const lastSegment =
    name
      .split(/[/\\]/)
      .filter((segment) => segment !== '')
      .pop() ?? '';
  const withoutExtension = lastSegment.toLowerCase().endsWith(WASM_EXTENSION) ? lastSegment.slice(0, -WASM_EXTENSION.length) : lastSegment;
  const stem = withoutExtension
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, MAX_TITLE_LENGTH - WASM_EXTENSION.length)
    .replace(/[.-]+$/, '');
  return (stem === '' ? FALLBACK_TITLE_STEM : stem) + WASM_EXTENSION;
}

function serialize<T>(json: T): OciBlob<T> {
  const bytes = Buffer.from(JSON.stringify(json), 'utf8');
  return { bytes, digest: sha256Digest(bytes), size: bytes.length, json };
}

/**
 * The creation time first, then the caller's annotations sorted by key, so that the bytes do not
 * depend on the order the caller built its record in.
 */
function manifestAnnotations(created: Date, extra: Record<string, string>): Record<string, string> {
  if (Object.hasOwn(extra, ANNOTATION_CREATED)) {
    throw new TypeError(`the ${ANNOTATION_CREATED} annotation is set from the creation date and cannot be given`);
  }
  const annotations: Record<string, string> = { [ANNOTATION_CREATED]: rfc3339Seconds(created) };
  for (const key of Object.keys(extra).sort()) {
    const value = extra[key];
    if (key === '' || typeof value !== 'string') {
      throw new TypeError(`annotation ${JSON.stringify(key)} must have a non-empty key and a string value`);
    }
    annotations[key] = value;
  }
  return annotations;
}

/** RFC 3339 in UTC with seconds precision: `2026-01-01T00:00:00Z`. */
function rfc3339Seconds(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('the creation date is not a valid date');
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function assertDigest(digest: string, field: string): void {
  if (!SHA256_DIGEST.test(digest)) {
    throw new TypeError(`${field} must be a sha256 digest (sha256: and 64 lowercase hex digits), got ${JSON.stringify(digest)}`);
  }
}

function assertDescriptor(descriptor: { digest: string; size: number }, field: string): void {
  assertDigest(descriptor.digest, `${field}.digest`);
  if (!Number.isSafeInteger(descriptor.size) || descriptor.size < 0) {
    throw new TypeError(`${field}.size must be a non-negative integer, got ${descriptor.size}`);
  }
}
