import { Readable } from 'node:stream';
import { InvalidReferenceError, OciRepository, isValidTag, parseRepository } from './oci-reference';
import { ALL_MANIFEST_MEDIA_TYPES, OCI_INDEX_MEDIA_TYPE, OciDescriptor, OciIndex, isSha256Digest, sha256Digest } from './oci-media-types';
import { emptyReferrersIndex, filterByArtifactType, parseOciIndex, referrerEntry, referrersTag, serializeOciIndex, withReferrer } from './referrers-tag-fallback';
import { CredentialLookup } from './registry-auth';
import { RegistryCredentials } from './registry-credentials';
import { RegistryError, type RegistryErrorCode, registryTimeoutError } from './registry-error';
import { FetchFunction, discardBody, readBody } from './registry-http';
import { egressGuardedFetch } from './registry-egress-fetch';
import type { RegistryEgressPolicy } from './registry-egress-policy';
import { RegistryResponse, RegistryTransport } from './registry-transport';
import { IdleDeadline, hashingUploadBody } from './hashing-upload-body';
import { reservedTagReason } from './reserved-tags';
import { CodedError } from '../common/coded-error';

/**
 * The OCI distribution client: the only code that talks to registries. Blobs (monolithic and streamed
 * uploads), manifests, and referrers (the referrers API, or the `sha256-<hex>` tag fallback of registries
 * without it, such as distribution 2.8). Failures are RegistryErrors classified permanent or transient;
 * the client does not retry (the queue re-runs steps), except the auth handshake, the fallback-index
 * update loop and a tag read answered 500 (see getManifest).
 */

/** Reads of a tag answered 500 tried again (see getManifest), after this delay times the retry's number. */
const TAG_READ_RETRIES = 2;
const TAG_READ_RETRY_DELAY_MS = 50;

export interface RegistryClientOptions {
  credentials?: CredentialLookup;
  /** `host[:port]` reached over plain http (exact match); all others over https. */
  insecureHosts?: readonly string[];
  userAgent: string;
  /** Deadline of one request, body included; for streamed uploads, the longest pause in the stream. */
  requestTimeoutMs: number;
  /**
   * Which registries callers may name and which addresses may be connected to (REGISTRY_ALLOWED_HOSTS,
   * REGISTRY_PRIVATE_ALLOWLIST). Without it the client connects anywhere: embedding programs decide.
   */
  egress?: RegistryEgressPolicy;
  /** Defaults to fetch, through the egress policy when there is one. */
  fetch?: FetchFunction;
  /**
   * Told of every HTTP request the client makes (token requests and redirects included) once its answer's
   * headers arrive (`status`), or once it failed without an answer (`status` null): for metrics.
   */
  onRequest?: (request: RegistryRequestRecord) => void;
  /** Clock for token expiry (tests). */
  now?: () => number;
}

export interface RegistryRequestRecord {
  method: string;
  status: number | null;
  seconds: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface ManifestContent {
  mediaType: string;
  /** sha256 of `bytes` (checked against the registry's Docker-Content-Digest and a digest reference). */
  digest: string;
  size: number;
  bytes: Buffer;
  /** For a conditional update (`If-Match`), when the registry sent one. */
  etag?: string;
}

export interface ManifestHead {
  mediaType: string;
  digest: string;
  size: number;
}

export interface StreamUploadOptions extends CallOptions {
  /** Larger sources fail with UPLOAD_TOO_LARGE (and the upload is cancelled). */
  maxBytes?: number;
  /** Sees each chunk as it passes; throwing cancels the upload and the error is rethrown unchanged. */
  onChunk?: (chunk: Uint8Array) => void | Promise<void>;
  /**
   * Runs once the whole source has reached the registry, before the blob is committed: the last chance
   * to refuse it (e.g. a truncated or invalid file). Throwing cancels the upload, error rethrown unchanged.
   */
  beforeCommit?: (size: number, digest: string) => void | Promise<void>;
}

export interface ReferrersList {
  index: OciIndex;
  source: 'referrers-api' | 'tag-fallback';
}

export interface ReferrerToAttach {
  manifestBytes: Buffer;
  mediaType: string;
  /** Defaults to the manifest's artifactType, else its config media type. */
  artifactType?: string;
  subjectDigest: string;
}

/** Distribution spec: registries accept manifests of at least 4 MiB; larger ones are refused here. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Attempts at the read-append-write of a referrers fallback index when writers collide (HTTP 412). */
const FALLBACK_INDEX_ATTEMPTS = 5;
const MAX_REFERRERS_PAGES = 50;
/** The best-effort DELETE of an abandoned upload gets at most this long. */
const CANCEL_TIMEOUT_MS = 10_000;

export class RegistryClient {
  readonly #transport: RegistryTransport;

  constructor(options: RegistryClientOptions) {
    this.#transport = new RegistryTransport({
      credentials: options.credentials ?? RegistryCredentials.none(),
      insecureHosts: options.insecureHosts ?? [],
      userAgent: options.userAgent,
      requestTimeoutMs: options.requestTimeoutMs,
      fetch: observedFetch(options.fetch ?? (options.egress ? egressGuardedFetch(options.egress) : (input, init) => fetch(input, init)), options.onRequest),
      egress: options.egress,
      now: options.now,
    });
  }

  // ── Blobs ────────────────────────────────────────────────────────────────────────────────────────

  async blobExists(repo: OciRepository, digest: string, options: CallOptions = {}): Promise<{ exists: boolean; size?: number }> {
    checkRepository(repo);
    checkDigest(digest);
    return this.#blobExists(repo, digest, 'pull', options.signal);
  }

  /** Uploads a blob held in memory (POST, then one PUT `?digest=`); skipped when the registry has it. */
  async pushBlob(repo: OciRepository, digest: string, bytes: Buffer, options: CallOptions = {}): Promise<{ digest: string; size: number; uploaded: boolean }> {
    checkRepository(repo);
    checkDigest(digest);
    const actual = sha256Digest(bytes);
    if (actual !== digest) {
      throw new RegistryError('DIGEST_MISMATCH', `Blob for ${repo.registry}/${repo.repository} has digest ${actual}, not the ${digest} given.`, {
        transient: false,
        registry: repo.registry,
        repository: repo.repository,
      });
    }
    if ((await this.#blobExists(repo, digest, 'push', options.signal)).exists) return { digest, size: bytes.length, uploaded: false };

    const { location } = await this.#startUpload(repo, options.signal);
    const put = await this.#transport.send({
      repo,
      access: 'push',
      method: 'PUT',
      url: withDigest(location, digest),
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
      operation: `PUT blob ${digest}`,
      signal: options.signal,
    });
    if (put.response.status !== 201 && put.response.status !== 204) await this.#transport.fail(put);
    await discardBody(put.response);
    return { digest, size: bytes.length, uploaded: true };
  }

  /**
   * Streams a blob whose digest is not known in advance, never holding it whole: POST opens an upload
   * session, one PATCH carries the stream (the "stream upload" Docker clients use: no Content-Range, the
   * registry appends what arrives) while sha256 and size are computed on the way, and PUT `?digest=`
   * commits it. The POST settles authentication first, because a streamed body cannot be resent after a
   * 401. On any failure — the caller's onChunk, maxBytes (UPLOAD_TOO_LARGE), the caller's signal, the
   * registry — the session is cancelled with a best-effort DELETE and the error rethrown unchanged.
   * When onChunk or maxBytes stops the upload, the request body is ended cleanly rather than cut off,
   * so that the registry answers with the session's current state and the DELETE is accepted
   * (distribution refuses to cancel a session whose state token lags behind the bytes it stored).
   * A Readable source is never destroyed: on failure its owner drains or drops the rest.
   */
  async pushBlobStream(repo: OciRepository, source: AsyncIterable<Uint8Array> | Readable, options: StreamUploadOptions = {}): Promise<{ digest: string; size: number }> {
    checkRepository(repo);
    if (typeof (source as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator] !== 'function') {
      throw new TypeError('pushBlobStream needs an AsyncIterable of Uint8Array chunks or a Readable');
    }
    const { signal } = options;
    // On failure the source is left as it is (unread or partly read, never destroyed): it is the caller's,
    // and an HTTP request body must stay open for the server to answer on its connection.
    const session = await this.#startUpload(repo, signal);
    let { location } = session;
    const patchContext = this.#transport.context(repo, `PATCH blob upload ${session.uuid}`);
    const idle = new IdleDeadline(this.#transport.requestTimeoutMs, () => registryTimeoutError(patchContext, this.#transport.requestTimeoutMs));
    const body = hashingUploadBody(source, {
      maxBytes: options.maxBytes,
      onChunk: options.onChunk,
      onActivity: () => idle.touch(),
      tooLarge: (maxBytes) =>
        new RegistryError('UPLOAD_TOO_LARGE', `Upload to ${repo.registry}/${repo.repository} exceeds the limit of ${maxBytes} bytes.`, {
          transient: false,
          registry: repo.registry,
          repository: repo.repository,
        }),
    });

    try {
      let patched: RegistryResponse;
      idle.touch();
      try {
        patched = await this.#transport.send({
          repo,
          access: 'push',
          method: 'PATCH',
          url: location,
          headers: { 'content-type': 'application/octet-stream' },
          body: body.stream,
          operation: patchContext.operation,
          signal,
          deadline: 'none',
          extraSignal: idle.signal,
        });
      } catch (error) {
        // When the body stopped itself (onChunk, maxBytes), that is the error to report, unchanged.
        throw body.failure()?.error ?? error;
      } finally {
        idle.stop();
      }
      // Each answer may move the session (distribution signs its state, with the offset, into the Location query).
      if (patched.response.status < 300 && patched.response.headers.get('location')) location = this.#transport.location(patched);
      const failure = body.failure();
      if (failure) {
        await discardBody(patched.response);
        throw failure.error;
      }
      if (patched.response.status !== 202 && patched.response.status !== 204) await this.#transport.fail(patched);
      const result = body.result();
      if (!result) {
        await discardBody(patched.response);
        throw new RegistryError('REGISTRY_PROTOCOL_ERROR', `Registry ${repo.registry} answered the upload to ${repo.repository} before receiving all of it.`, {
          transient: true,
          registry: repo.registry,
          repository: repo.repository,
        });
      }
      checkUploadedRange(patched, result.size);
      await discardBody(patched.response);
      if (options.beforeCommit) await options.beforeCommit(result.size, result.digest);

      const committed = await this.#transport.send({
        repo,
        access: 'push',
        method: 'PUT',
        url: withDigest(location, result.digest),
        operation: `PUT blob ${result.digest} (upload ${session.uuid})`,
        signal,
      });
      if (committed.response.status !== 201 && committed.response.status !== 204) {
        // A registry that refuses to commit content it already holds still has the blob: that is success.
        const error = await this.#transport.error(committed);
        const existing = error.transient ? undefined : await this.#blobExists(repo, result.digest, 'push', signal).catch(() => undefined);
        if (existing?.exists && (existing.size === undefined || existing.size === result.size)) return result;
        throw error;
      }
      await discardBody(committed.response);
      return result;
    } catch (error) {
      await body.close();
      await this.#cancelUpload(repo, location);
      throw error;
    }
  }

  async #blobExists(repo: OciRepository, digest: string, access: 'pull' | 'push', signal: AbortSignal | undefined): Promise<{ exists: boolean; size?: number }> {
    const answer = await this.#transport.send({
      repo,
      access,
      method: 'HEAD',
      url: `/v2/${repo.repository}/blobs/${digest}`,
      operation: `HEAD blob ${digest}`,
      signal,
    });
    await discardBody(answer.response);
    if (answer.response.status === 404) return { exists: false };
    if (answer.response.status !== 200) await this.#transport.fail(answer);
    const length = answer.response.headers.get('content-length');
    return length !== null && /^\d+$/.test(length) ? { exists: true, size: Number(length) } : { exists: true };
  }

  /** POST …/blobs/uploads/: a new upload session's location and name (for messages). */
  async #startUpload(repo: OciRepository, signal: AbortSignal | undefined): Promise<{ location: URL; uuid: string }> {
    const answer = await this.#transport.send({
      repo,
      access: 'push',
      method: 'POST',
      url: `/v2/${repo.repository}/blobs/uploads/`,
      operation: 'POST blob upload',
      signal,
    });
    if (answer.response.status !== 202) await this.#transport.fail(answer);
    const location = this.#transport.location(answer);
    await discardBody(answer.response);
    const uuid = answer.response.headers.get('docker-upload-uuid') ?? location.pathname.split('/').pop() ?? '';
    return { location, uuid };
  }

  /** Best effort: the session may already be gone, or the registry unreachable; the caller's error matters more. */
  async #cancelUpload(repo: OciRepository, location: URL): Promise<void> {
    try {
      const answer = await this.#transport.send({
        repo,
        access: 'push',
        method: 'DELETE',
        url: location,
        operation: 'DELETE blob upload',
        timeoutMs: Math.min(this.#transport.requestTimeoutMs, CANCEL_TIMEOUT_MS),
      });
      await discardBody(answer.response);
    } catch {
      // Abandoned sessions are also purged by the registry after a while (distribution: upload purging).
    }
  }

  /**
   * A small blob read whole (signature payloads, bundles), or undefined on 404. Its sha256 must be the
   * digest asked for (DIGEST_MISMATCH otherwise): content from a registry is never trusted unchecked.
   */
  async getBlob(repo: OciRepository, digest: string, options: CallOptions & { maxBytes?: number } = {}): Promise<Buffer | undefined> {
    checkRepository(repo);
    checkDigest(digest);
    const maxBytes = options.maxBytes ?? MAX_MANIFEST_BYTES;
    const answer = await this.#transport.send({
      repo,
      access: 'pull',
      method: 'GET',
      url: `/v2/${repo.repository}/blobs/${digest}`,
      operation: `GET blob ${digest}`,
      signal: options.signal,
    });
    if (answer.response.status === 404) {
      await discardBody(answer.response);
      return undefined;
    }
    if (answer.response.status !== 200) await this.#transport.fail(answer);
    const bytes = await readBody(
      answer.response,
      answer.signals,
      maxBytes,
      () =>
        new RegistryError('BLOB_TOO_LARGE', `Blob ${digest} in ${repo.registry}/${repo.repository} is larger than ${maxBytes} bytes.`, {
          transient: false,
          registry: repo.registry,
          repository: repo.repository,
        }),
    );
    const actual = sha256Digest(bytes);
    if (actual !== digest) {
      throw new RegistryError('DIGEST_MISMATCH', `Blob ${digest} from ${repo.registry}/${repo.repository} has digest ${actual}.`, {
        transient: false,
        registry: repo.registry,
        repository: repo.repository,
      });
    }
    return bytes;
  }

  // ── Manifests ────────────────────────────────────────────────────────────────────────────────────

  /**
   * A manifest by tag or digest, or undefined on 404. `accept` matters: distribution 2.8 answers 404 for
   * an OCI manifest when the Accept header does not list its media type. A digest reference is verified
   * against the bytes (DIGEST_MISMATCH otherwise), as is the registry's Docker-Content-Digest.
   */
  async getManifest(repo: OciRepository, reference: string, accept: readonly string[] = ALL_MANIFEST_MEDIA_TYPES, options: CallOptions = {}): Promise<ManifestContent | undefined> {
    checkRepository(repo);
    checkManifestReference(reference);
    const send = () =>
      this.#transport.send({
        repo,
        access: 'pull',
        method: 'GET',
        url: `/v2/${repo.repository}/manifests/${reference}`,
        headers: { accept: accept.join(', ') },
        operation: `GET manifest ${reference}`,
        signal: options.signal,
      });
    let answer = await send();
    // distribution's filesystem storage answers 500 UNKNOWN to a read of a tag whose link another client is
    // rewriting at that moment (a referrers fallback index, a .sig tag): found by bench/load, where signs and
    // verifications of the same artifacts meet. A tag read is idempotent, so it is tried again, briefly,
    // before the registry is called unavailable (the exception to "the queue retries": verifications are
    // answered while the caller waits).
    for (let retry = 1; answer.response.status === 500 && !isSha256Digest(reference) && retry <= TAG_READ_RETRIES; retry++) {
      await discardBody(answer.response);
      await new Promise((resolve) => setTimeout(resolve, TAG_READ_RETRY_DELAY_MS * retry));
      answer = await send();
    }
    if (answer.response.status === 404) {
      await discardBody(answer.response);
      return undefined;
    }
    if (answer.response.status !== 200) await this.#transport.fail(answer);
    const bytes = await readBody(answer.response, answer.signals, MAX_MANIFEST_BYTES, () => manifestTooLarge(repo, reference));
    const digest = sha256Digest(bytes);
    const announced = answer.response.headers.get('docker-content-digest');
    if (isSha256Digest(reference) && digest !== reference) throw digestMismatch(repo, reference, digest, 'requested');
    if (announced !== null && announced.startsWith('sha256:') && announced !== digest) throw digestMismatch(repo, announced, digest, 'announced by the registry');
    const etag = answer.response.headers.get('etag') ?? undefined;
    return {
      mediaType: manifestMediaType(answer.response.headers.get('content-type'), bytes),
      digest,
      size: bytes.length,
      bytes,
      ...(etag !== undefined ? { etag } : {}),
    };
  }

  /** As getManifest, but a missing manifest is an error: MANIFEST_NOT_FOUND (permanent). */
  async getRequiredManifest(repo: OciRepository, reference: string, accept: readonly string[] = ALL_MANIFEST_MEDIA_TYPES, options: CallOptions = {}): Promise<ManifestContent> {
    const manifest = await this.getManifest(repo, reference, accept, options);
    if (!manifest) {
      throw new RegistryError('MANIFEST_NOT_FOUND', `No manifest ${reference} in ${repo.registry}/${repo.repository} (of the media types ${accept.join(', ')}).`, {
        transient: false,
        registry: repo.registry,
        repository: repo.repository,
        status: 404,
      });
    }
    return manifest;
  }

  /** Media type, digest and size without the body (HEAD); resolves a tag to its digest. Undefined on 404. */
  async headManifest(repo: OciRepository, reference: string, accept: readonly string[] = ALL_MANIFEST_MEDIA_TYPES, options: CallOptions = {}): Promise<ManifestHead | undefined> {
    checkRepository(repo);
    checkManifestReference(reference);
    const answer = await this.#transport.send({
      repo,
      access: 'pull',
      method: 'HEAD',
      url: `/v2/${repo.repository}/manifests/${reference}`,
      headers: { accept: accept.join(', ') },
      operation: `HEAD manifest ${reference}`,
      signal: options.signal,
    });
    await discardBody(answer.response);
    if (answer.response.status === 404) return undefined;
    if (answer.response.status !== 200) await this.#transport.fail(answer);
    const announced = answer.response.headers.get('docker-content-digest');
    const length = answer.response.headers.get('content-length');
    const contentType = answer.response.headers.get('content-type');
    const digest = announced !== null && isSha256Digest(announced) ? announced : isSha256Digest(reference) ? reference : undefined;
    if (digest === undefined || length === null || !/^\d+$/.test(length) || !contentType) {
      // Not enough in the headers (some registries omit the digest on HEAD): read the manifest itself.
      const manifest = await this.getManifest(repo, reference, accept, options);
      return manifest && { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size };
    }
    if (isSha256Digest(reference) && digest !== reference) throw digestMismatch(repo, reference, digest, 'requested');
    return { mediaType: stripParameters(contentType), digest, size: Number(length) };
  }

  /**
   * PUT a manifest under a tag or its digest, with `mediaType` as Content-Type. Returns its digest and,
   * when the registry has the referrers API, the `OCI-Subject` it answered with. `ifMatch` makes the
   * write conditional (HTTP 412 → REGISTRY_PRECONDITION_FAILED, transient) where the registry supports it.
   * A tag derived from a digest (reserved-tags.ts) is written only with `derivedTag`: the signing path's
   * `.sig` image and the referrers fallback index, never a tag a caller chose.
   */
  async putManifest(
    repo: OciRepository,
    reference: string,
    mediaType: string,
    bytes: Buffer,
    options: CallOptions & { ifMatch?: string; derivedTag?: boolean } = {},
  ): Promise<{ digest: string; subject?: string }> {
    checkRepository(repo);
    checkManifestReference(reference);
    const reserved = options.derivedTag ? undefined : reservedTagReason(reference);
    if (reserved !== undefined) throw new CodedError<RegistryErrorCode>('RESERVED_TAG', reserved);
    if (bytes.length > MAX_MANIFEST_BYTES) throw manifestTooLarge(repo, reference);
    const digest = sha256Digest(bytes);
    if (isSha256Digest(reference) && digest !== reference) throw digestMismatch(repo, reference, digest, 'given');
    const headers: Record<string, string> = { 'content-type': mediaType };
    if (options.ifMatch !== undefined) headers['if-match'] = options.ifMatch;
    const answer = await this.#transport.send({
      repo,
      access: 'push',
      method: 'PUT',
      url: `/v2/${repo.repository}/manifests/${reference}`,
      headers,
      body: bytes,
      operation: `PUT manifest ${reference}`,
      signal: options.signal,
    });
    if (answer.response.status < 200 || answer.response.status > 299) await this.#transport.fail(answer);
    await discardBody(answer.response);
    const announced = answer.response.headers.get('docker-content-digest');
    if (announced !== null && announced.startsWith('sha256:') && announced !== digest) throw digestMismatch(repo, announced, digest, 'stored by the registry');
    const subject = answer.response.headers.get('oci-subject') ?? undefined;
    return subject !== undefined ? { digest, subject } : { digest };
  }

  // ── Referrers ────────────────────────────────────────────────────────────────────────────────────

  /**
   * The manifests referring to `subjectDigest`: from the referrers API (following `Link` pages), or —
   * when the registry answers 404/400/406 or something that is not an index — from the fallback tag
   * `sha256-<hex>` (missing: an empty index). `artifactType` filters (client-side as well, since
   * registries may ignore the filter).
   */
  async listReferrers(repo: OciRepository, subjectDigest: string, options: CallOptions & { artifactType?: string } = {}): Promise<ReferrersList> {
    checkRepository(repo);
    checkDigest(subjectDigest);
    const fromApi = await this.#referrersFromApi(repo, subjectDigest, options.artifactType, options.signal);
    if (fromApi) return { index: filterByArtifactType(fromApi, options.artifactType), source: 'referrers-api' };
    const { index } = await this.#readFallbackIndex(repo, subjectDigest, options.signal);
    return { index: filterByArtifactType(index, options.artifactType), source: 'tag-fallback' };
  }

  /**
   * Pushes a referring manifest (its blobs must already be there) by digest. A registry with the
   * referrers API confirms with `OCI-Subject` and indexes it itself; otherwise the fallback index tag
   * `sha256-<subject hex>` is read, the descriptor appended unless present, and written back with
   * `If-Match` when the registry gave an ETag, re-reading on 412 (bounded).
   */
  async attachReferrer(
    repo: OciRepository,
    referrer: ReferrerToAttach,
    options: CallOptions = {},
  ): Promise<{ digest: string; size: number; source: 'referrers-api' | 'tag-fallback' }> {
    checkRepository(repo);
    checkDigest(referrer.subjectDigest);
    const entry = referrerEntry(referrer.manifestBytes, referrer.mediaType, referrer.artifactType);
    const invalid = (what: string) =>
      new RegistryError('INVALID_REFERRER', `Referrer manifest for ${repo.registry}/${repo.repository} ${what}.`, {
        transient: false,
        registry: repo.registry,
        repository: repo.repository,
      });
    if (!entry) throw invalid('is not a JSON object');
    if (entry.subjectDigest !== referrer.subjectDigest) {
      throw invalid(`names the subject ${entry.subjectDigest ?? '(none)'}, not ${referrer.subjectDigest}`);
    }
    const { descriptor } = entry;
    const put = await this.putManifest(repo, descriptor.digest, referrer.mediaType, referrer.manifestBytes, options);
    const result = { digest: descriptor.digest, size: descriptor.size };
    if (put.subject !== undefined) return { ...result, source: 'referrers-api' };

    const tag = referrersTag(referrer.subjectDigest);
    for (let attempt = 1; ; attempt++) {
      const current = await this.#readFallbackIndex(repo, referrer.subjectDigest, options.signal);
      const next = withReferrer(current.index, descriptor);
      if (!next) return { ...result, source: 'tag-fallback' };
      try {
        await this.putManifest(repo, tag, OCI_INDEX_MEDIA_TYPE, serializeOciIndex(next), {
          signal: options.signal,
          derivedTag: true,
          ...(current.etag !== undefined ? { ifMatch: current.etag } : {}),
        });
        return { ...result, source: 'tag-fallback' };
      } catch (error) {
        // Another writer changed the index between our read and write: read it again.
        if (error instanceof RegistryError && error.code === 'REGISTRY_PRECONDITION_FAILED' && attempt < FALLBACK_INDEX_ATTEMPTS) continue;
        throw error;
      }
    }
  }

  async #referrersFromApi(repo: OciRepository, subjectDigest: string, artifactType: string | undefined, signal: AbortSignal | undefined): Promise<OciIndex | undefined> {
    let url: string | URL = `/v2/${repo.repository}/referrers/${subjectDigest}${artifactType !== undefined ? `?artifactType=${encodeURIComponent(artifactType)}` : ''}`;
    const manifests: OciDescriptor[] = [];
    let first: OciIndex | undefined;
    for (let page = 0; page < MAX_REFERRERS_PAGES; page++) {
      const answer = await this.#transport.send({
        repo,
        access: 'pull',
        method: 'GET',
        url,
        headers: { accept: OCI_INDEX_MEDIA_TYPE },
        operation: `GET referrers of ${subjectDigest}`,
        signal,
      });
      const status = answer.response.status;
      if (page === 0 && (status === 404 || status === 400 || status === 406)) {
        // No referrers API (distribution 2.8 answers a plain-text 404): use the tag fallback.
        await discardBody(answer.response);
        return undefined;
      }
      if (status !== 200) await this.#transport.fail(answer);
      const bytes = await readBody(answer.response, answer.signals, MAX_MANIFEST_BYTES, () => manifestTooLarge(repo, `referrers of ${subjectDigest}`));
      const index = parseOciIndex(bytes, stripParameters(answer.response.headers.get('content-type') ?? ''));
      if (!index) {
        if (page === 0) return undefined;
        throw new RegistryError('REGISTRY_PROTOCOL_ERROR', `Registry ${repo.registry} sent a referrers page that is not an OCI image index.`, {
          transient: false,
          registry: repo.registry,
          repository: repo.repository,
        });
      }
      first ??= index;
      manifests.push(...index.manifests);
      const next = nextLink(answer.response.headers.get('link'));
      if (!next) break;
      url = new URL(next, answer.url);
    }
    return { ...first!, manifests };
  }

  async #readFallbackIndex(repo: OciRepository, subjectDigest: string, signal: AbortSignal | undefined): Promise<{ index: OciIndex; etag?: string }> {
    const tag = referrersTag(subjectDigest);
    // Accept every manifest type, so that a tag holding something else is noticed rather than overwritten.
    const manifest = await this.getManifest(repo, tag, ALL_MANIFEST_MEDIA_TYPES, { signal });
    if (!manifest) return { index: emptyReferrersIndex() };
    const index = parseOciIndex(manifest.bytes, manifest.mediaType);
    if (!index) {
      throw new RegistryError(
        'REFERRERS_TAG_INVALID',
        `Tag ${tag} in ${repo.registry}/${repo.repository} holds a ${manifest.mediaType || 'manifest'}, not an OCI image index of referrers.`,
        { transient: false, registry: repo.registry, repository: repo.repository },
      );
    }
    return { index, ...(manifest.etag !== undefined ? { etag: manifest.etag } : {}) };
  }
}

// ── Helpers ──────────────────────────────────────────────────────────────────────────────────────

function checkRepository(repo: OciRepository): void {
  parseRepository(`${repo.registry}/${repo.repository}`);
}

function checkDigest(digest: string): void {
  if (!isSha256Digest(digest)) {
    throw new InvalidReferenceError(`digest ${JSON.stringify(digest.slice(0, 100))} is invalid (expected "sha256:" and 64 lowercase hex digits)`);
  }
}

function checkManifestReference(reference: string): void {
  if (!isSha256Digest(reference) && !isValidTag(reference)) {
    throw new InvalidReferenceError(`${JSON.stringify(reference.slice(0, 140))} is neither a valid tag nor a sha256 digest`);
  }
}

/** The session URL with `digest=` added, keeping the registry's own query (e.g. distribution's `_state`) byte for byte. */
function withDigest(location: URL, digest: string): string {
  const { href } = location;
  const hash = href.indexOf('#');
  const base = hash === -1 ? href : href.slice(0, hash);
  return `${base}${location.search ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

/**
 * Distribution answers each PATCH with `Range: 0-<last byte offset>` ("0-0" for an empty upload).
 * Fewer bytes than sent means the registry lost part of the stream.
 */
function checkUploadedRange(answer: RegistryResponse, sent: number): void {
  const range = answer.response.headers.get('range');
  const match = range === null ? null : /^(?:bytes=)?0-(\d+)$/.exec(range.trim());
  if (!match) return;
  const last = Number(match[1]);
  const stored = sent === 0 ? 0 : last + 1;
  if (stored === sent || (sent <= 1 && last === 0)) return;
  throw new RegistryError('REGISTRY_UNAVAILABLE', `Registry ${answer.context.registry} acknowledged ${stored} of ${sent} bytes uploaded to ${answer.context.repository}.`, {
    transient: true,
    registry: answer.context.registry,
    repository: answer.context.repository,
    status: answer.response.status,
  });
}

function stripParameters(contentType: string): string {
  return contentType.split(';')[0]!.trim();
}

const GENERIC_CONTENT_TYPES = new Set(['', 'application/json', 'text/plain', 'application/octet-stream']);

/** The registry's Content-Type, unless generic; then the manifest's own `mediaType` field. */
function manifestMediaType(contentType: string | null, bytes: Buffer): string {
  const announced = stripParameters(contentType ?? '');
  if (!GENERIC_CONTENT_TYPES.has(announced)) return announced;
  try {
    const { mediaType } = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown };
    if (typeof mediaType === 'string') return mediaType;
  } catch {
    // Not JSON: keep what the registry said.
  }
  return announced;
}

/** The `rel="next"` target of a Link header (RFC 8288), as the referrers API paginates. */
function nextLink(link: string | null): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (match && /;\s*rel="?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(match[2]!)) return match[1];
  }
  return undefined;
}

function digestMismatch(repo: OciRepository, expected: string, actual: string, what: string): RegistryError {
  return new RegistryError('DIGEST_MISMATCH', `Manifest in ${repo.registry}/${repo.repository} has digest ${actual}, not the ${expected} ${what}.`, {
    transient: false,
    registry: repo.registry,
    repository: repo.repository,
  });
}

function manifestTooLarge(repo: OciRepository, reference: string): RegistryError {
  return new RegistryError('MANIFEST_TOO_LARGE', `Manifest ${reference} in ${repo.registry}/${repo.repository} is larger than ${MAX_MANIFEST_BYTES} bytes.`, {
    transient: false,
    registry: repo.registry,
    repository: repo.repository,
  });
}

/** `fetchImpl`, telling `onRequest` of each request's method, status and duration. */
function observedFetch(fetchImpl: FetchFunction, onRequest: RegistryClientOptions['onRequest']): FetchFunction {
  if (!onRequest) return fetchImpl;
  return async (input, init) => {
    const started = performance.now();
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const record = (status: number | null) => onRequest({ method, status, seconds: (performance.now() - started) / 1000 });
    try {
      const response = await fetchImpl(input, init);
      record(response.status);
      return response;
    } catch (error) {
      record(null);
      throw error;
    }
  };
}
