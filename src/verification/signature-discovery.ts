import type { SignatureFormat } from '../database/database.types';
import { CodedError } from '../common/coded-error';
import { DOCKER_MANIFEST_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE } from '../registry/oci-media-types';
import type { OciRepository } from '../registry/oci-reference';
import type { RegistryClient } from '../registry/registry-client';
import { SIMPLESIGNING_MEDIA_TYPE, cosignSignatureTag, parseSignatureManifest } from '../signature-formats/cosign-classic-signature';
import { BUNDLE_MEDIA_TYPE, BUNDLE_PREDICATE_TYPE_ANNOTATION, COSIGN_SIGN_PREDICATE_TYPE } from '../signature-formats/sigstore-bundle-referrer';
import { LruCache } from '../common/lru-cache';
import { classicSignatureBundle } from './classic-signature-bundle';

/** One signature found in the registry for a manifest digest, ready to verify (or why it cannot be). */
export interface DiscoveredSignature {
  format: SignatureFormat;
  /** Where it was found: the `.sig` tag and layer, or the referrer manifest's digest. */
  location: string;
  /** The Sigstore bundle document (classic signatures rebuilt from their annotations). */
  bundle?: unknown;
  /** Classic signatures: the simple-signing payload, the bytes the signature is over. */
  payload?: Buffer;
  /** When the signature could not be read: it counts as a failed signature. */
  unreadable?: { code: string; message: string };
}

const MAX_SIGNATURE_BLOB_BYTES = 1024 * 1024;
/**
 * Each signature costs a few registry reads and ~15 ms of verification; a `.sig` image with thousands
 * of layers (or a referrers index as long) must not make one request take minutes. The newest ones
 * count: cosign appends new `.sig` layers, and referrers are appended to the fallback index.
 */
export const MAX_SIGNATURES_PER_FORMAT = 32;
/** Content-addressed reads worth keeping: signature payloads and bundles are a few KiB. */
const MAX_CACHED_BYTES = 64 * 1024;

/**
 * What a digest names never changes, so the referrer manifests and blobs that discovery reads are kept
 * (per repository, bounded): a repeated verification then only re-reads the two tags that can move,
 * `sha256-<hex>.sig` and the referrers (fallback) index.
 */
export class ImmutableContentCache {
  private readonly entries: LruCache<string, Buffer>;

  constructor(capacity = 2048) {
    this.entries = new LruCache(capacity);
  }

  async read(repo: OciRepository, digest: string, load: () => Promise<Buffer | undefined>): Promise<Buffer | undefined> {
    const key = `${repo.registry}/${repo.repository}@${digest}`;
    const cached = this.entries.get(key);
    if (cached) return cached;
    const bytes = await load();
    if (bytes && bytes.length <= MAX_CACHED_BYTES) this.entries.set(key, bytes);
    return bytes;
  }
}

const NO_CACHE: Pick<ImmutableContentCache, 'read'> = { read: (_repo, _digest, load) => load() };

/**
 * Finds every signature of a manifest digest, live from the registry: the cosign classic layers of
 * `sha256-<hex>.sig`, and the Sigstore bundles attached as referrers (the referrers API, else the
 * `sha256-<hex>` fallback tag) that sign it: attestations (provenance) are bundle referrers too, and are
 * left to discoverAttestations. Registry errors other than "not there" are thrown (the caller retries
 * or reports them); a signature that is there but cannot be read is returned as unreadable.
 */
export async function discoverSignatures(
  registry: RegistryClient,
  repo: OciRepository,
  digest: string,
  signal?: AbortSignal,
  cache: Pick<ImmutableContentCache, 'read'> = NO_CACHE,
): Promise<DiscoveredSignature[]> {
  const [classic, bundles] = await Promise.all([
    classicSignatures(registry, repo, digest, cache, signal),
    bundleReferrers(registry, repo, digest, cache, signal, isSignaturePredicateType),
  ]);
  return [...classic, ...bundles];
}

async function classicSignatures(
  registry: RegistryClient,
  repo: OciRepository,
  digest: string,
  cache: Pick<ImmutableContentCache, 'read'>,
  signal?: AbortSignal,
): Promise<DiscoveredSignature[]> {
  const tag = cosignSignatureTag(digest);
  const manifest = await registry.getManifest(repo, tag, [OCI_MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE], { signal });
  if (!manifest) return [];
  const all = parseSignatureManifest(manifest.bytes).filter((layer) => layer.mediaType === SIMPLESIGNING_MEDIA_TYPE);
  const skipped = Math.max(0, all.length - MAX_SIGNATURES_PER_FORMAT);
  return Promise.all(
    all.slice(skipped).map(async (layer, index): Promise<DiscoveredSignature> => {
      const location = `${tag} layer ${skipped + index + 1}`;
      try {
        const payload = await cache.read(repo, layer.digest, () => registry.getBlob(repo, layer.digest, { signal, maxBytes: MAX_SIGNATURE_BLOB_BYTES }));
        if (!payload) return { format: 'cosign-classic', location, unreadable: { code: 'SIGNATURE_PAYLOAD_MISSING', message: `the payload blob ${layer.digest} is missing` } };
        return { format: 'cosign-classic', location, payload, bundle: classicSignatureBundle(payload, layer.annotations ?? {}) };
      } catch (error) {
        return { format: 'cosign-classic', location, unreadable: unreadable(error) };
      }
    }),
  );
}

/**
 * Finds the attestations of a manifest digest whose predicate type is `predicateType` (an SLSA
 * provenance, say): the Sigstore bundle referrers whose `dev.sigstore.bundle.predicateType` annotation
 * names it, bounded like signatures (the newest MAX_SIGNATURES_PER_FORMAT). The annotation only decides
 * where to look: what the statement itself says is for the verifier to check.
 */
export async function discoverAttestations(
  registry: RegistryClient,
  repo: OciRepository,
  digest: string,
  predicateType: string,
  signal?: AbortSignal,
  cache: Pick<ImmutableContentCache, 'read'> = NO_CACHE,
): Promise<DiscoveredSignature[]> {
  return bundleReferrers(registry, repo, digest, cache, signal, (annotated) => annotated === predicateType);
}

/**
 * A bundle referrer is a signature when its predicate type is cosign's sign type, or when it names none
 * (bundles written before attestations were attached, by this service or others); any other predicate
 * type is an attestation, not a signature of the artifact.
 */
const isSignaturePredicateType = (annotated: string | undefined) => annotated === undefined || annotated === COSIGN_SIGN_PREDICATE_TYPE;

/**
 * The bundle referrers of `digest` whose predicate type `wanted` accepts. The type is read from the
 * index descriptor's annotation, else (when the descriptor has none) from the referrer manifest's; the
 * newest MAX_SIGNATURES_PER_FORMAT candidates are read.
 */
async function bundleReferrers(
  registry: RegistryClient,
  repo: OciRepository,
  digest: string,
  cache: Pick<ImmutableContentCache, 'read'>,
  signal: AbortSignal | undefined,
  wanted: (predicateType: string | undefined) => boolean,
): Promise<DiscoveredSignature[]> {
  const { index } = await registry.listReferrers(repo, digest, { artifactType: BUNDLE_MEDIA_TYPE, signal });
  // Descriptors that name their predicate type are chosen by it; the others once their manifest is read.
  const candidates = index.manifests.filter((descriptor) => {
    const annotated = descriptor.annotations?.[BUNDLE_PREDICATE_TYPE_ANNOTATION];
    return annotated === undefined || wanted(annotated);
  });
  const found = await Promise.all(
    candidates.slice(-MAX_SIGNATURES_PER_FORMAT).map(async (descriptor): Promise<DiscoveredSignature | undefined> => {
      const location = `referrer ${descriptor.digest}`;
      const annotated = descriptor.annotations?.[BUNDLE_PREDICATE_TYPE_ANNOTATION];
      try {
        const manifest = await cache.read(repo, descriptor.digest, async () => (await registry.getManifest(repo, descriptor.digest, [OCI_MANIFEST_MEDIA_TYPE], { signal }))?.bytes);
        if (annotated === undefined && !wanted(manifest && manifestPredicateType(manifest))) return undefined;
        const layer = manifest && parseSignatureManifest(manifest).find((l) => l.mediaType === BUNDLE_MEDIA_TYPE);
        if (!layer) return { format: 'sigstore-bundle', location, unreadable: { code: 'BUNDLE_MISSING', message: 'the referrer holds no bundle layer' } };
        const blob = await cache.read(repo, layer.digest, () => registry.getBlob(repo, layer.digest, { signal, maxBytes: MAX_SIGNATURE_BLOB_BYTES }));
        if (!blob) return { format: 'sigstore-bundle', location, unreadable: { code: 'BUNDLE_MISSING', message: `the bundle blob ${layer.digest} is missing` } };
        return { format: 'sigstore-bundle', location, bundle: JSON.parse(blob.toString('utf8')) };
      } catch (error) {
        const failure = unreadable(error); // a registry that is down is thrown
        // A referrer of unknown type that cannot be read counts where it always did: among the signatures.
        if (annotated === undefined && !wanted(undefined)) return undefined;
        return { format: 'sigstore-bundle', location, unreadable: failure };
      }
    }),
  );
  return found.filter((signature) => signature !== undefined);
}

/** The predicate type a referrer manifest's annotations name; undefined when none (or not JSON: then reading its layers fails). */
function manifestPredicateType(manifest: Buffer): string | undefined {
  try {
    const annotated = (JSON.parse(manifest.toString('utf8')) as { annotations?: Record<string, unknown> } | null)?.annotations?.[BUNDLE_PREDICATE_TYPE_ANNOTATION];
    return typeof annotated === 'string' ? annotated : undefined;
  } catch {
    return undefined;
  }
}

function unreadable(error: unknown): { code: string; message: string } {
  // A registry that is down is not a bad signature: the whole verification is retried or reported.
  if (error instanceof CodedError && error.transient) throw error;
  const code = (error as { code?: unknown })?.code;
  return { code: typeof code === 'string' ? code : 'SIGNATURE_UNREADABLE', message: (error as Error)?.message ?? String(error) };
}
