import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { CliError, ExitCode, UnreachableError } from './exit-codes';
import { unreachableOr } from './service-client';

const MANIFEST_MEDIA_TYPES = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;
const WASM_LAYER = 'application/wasm';

export interface PinnedReference {
  registry: string;
  repository: string;
  digest: string;
}

/** `host[:port]/path@sha256:<hex>` in parts; only references pinned to a sha256 digest are taken. */
export function parsePinnedReference(reference: string): PinnedReference {
  const match = /^([^/@]+)\/([^@]+)@(sha256:[0-9a-f]{64})$/.exec(reference);
  if (!match) throw new CliError(`${JSON.stringify(reference)} is not a reference pinned to a sha256 digest`, ExitCode.Failed);
  return { registry: match[1]!, repository: match[2]!, digest: match[3]! };
}

/** Loopback registries are spoken to over plain HTTP (as Docker does), every other over HTTPS unless told. */
export function registryBaseUrl(registry: string, plainHttp: boolean): string {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host);
  return `${plainHttp || loopback ? 'http' : 'https'}://${registry}`;
}

export interface PullOptions {
  plainHttp: boolean;
  timeoutMs: number;
  maxBytes: number;
}

/**
 * Pulls the component of an oci-wasm manifest by digest into `file`: the manifest is read by the
 * verified digest and its bytes checked against it, then its single application/wasm layer is streamed
 * to the file and its sha256 and size checked against the manifest's descriptor. Anonymous pulls only:
 * a registry that asks for credentials is reported, not answered. Returns the layer's digest.
 */
export async function pullWasmLayer(reference: PinnedReference, file: string, options: PullOptions): Promise<{ layerDigest: string; size: number }> {
  const base = `${registryBaseUrl(reference.registry, options.plainHttp)}/v2/${reference.repository}`;
  const manifestBytes = await registryGet(`${base}/manifests/${reference.digest}`, MANIFEST_MEDIA_TYPES, options, async (response) => {
    const bytes = Buffer.from(await response.arrayBuffer());
    if (bytes.length > MANIFEST_MAX_BYTES) throw new CliError(`the manifest of ${reference.digest} is larger than ${MANIFEST_MAX_BYTES} bytes`, ExitCode.Failed);
    return bytes;
  });
  const manifestDigest = `sha256:${createHash('sha256').update(manifestBytes).digest('hex')}`;
  if (manifestDigest !== reference.digest) throw new CliError(`the registry answered a manifest with digest ${manifestDigest} for ${reference.digest}: not run`, ExitCode.Failed);
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as { layers?: { mediaType?: string; digest?: string; size?: number }[] };
  const layers = (manifest.layers ?? []).filter((layer) => layer.mediaType === WASM_LAYER);
  if (layers.length !== 1 || manifest.layers!.length !== 1) throw new CliError(`${reference.digest} is not an oci-wasm artifact (one ${WASM_LAYER} layer)`, ExitCode.Failed);
  const layer = layers[0]!;
  if (!/^sha256:[0-9a-f]{64}$/.test(layer.digest ?? '')) throw new CliError(`the wasm layer of ${reference.digest} has no sha256 digest`, ExitCode.Failed);
  if (typeof layer.size !== 'number' || layer.size > options.maxBytes)
    throw new CliError(`the wasm layer is ${layer.size} bytes, more than --max-bytes ${options.maxBytes}`, ExitCode.Failed);
  const size = await registryGet(`${base}/blobs/${layer.digest}`, '*/*', options, async (response) => {
    const hash = createHash('sha256');
    const out = createWriteStream(file, { mode: 0o600 });
    let written = 0;
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        written += chunk.length;
        if (written > layer.size!) throw new CliError(`the registry sent more than the layer's ${layer.size} bytes: not run`, ExitCode.Failed);
        hash.update(chunk);
        if (!out.write(chunk)) await once(out, 'drain');
      }
    } finally {
      out.end();
      await once(out, 'close');
    }
    const digest = `sha256:${hash.digest('hex')}`;
    if (digest !== layer.digest || written !== layer.size)
      throw new CliError(`the wasm layer's bytes have digest ${digest} (${written} bytes), not ${layer.digest}: not run`, ExitCode.Failed);
    return written;
  });
  return { layerDigest: layer.digest!, size };
}

async function registryGet<T>(url: string, accept: string, options: PullOptions, read: (response: Response) => Promise<T>): Promise<T> {
  const registry = new URL(url).host;
  try {
    const response = await fetch(url, { headers: { accept }, signal: AbortSignal.timeout(options.timeoutMs) });
    if (response.status === 401 || response.status === 403) {
      throw new CliError(`the registry ${registry} wants credentials (HTTP ${response.status}); run pulls anonymously only`, ExitCode.Failed);
    }
    if (!response.ok) throw new CliError(`the registry ${registry} answered HTTP ${response.status} for ${new URL(url).pathname}`, ExitCode.Failed);
    return await read(response);
  } catch (error) {
    const mapped = unreachableOr(error, `the registry ${registry}`, options.timeoutMs);
    if (mapped instanceof UnreachableError || mapped instanceof CliError) throw mapped;
    throw error;
  }
}
