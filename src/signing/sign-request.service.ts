import { Injectable } from '@nestjs/common';
import type { Caller } from '../access/caller';
import { assertRepositoryAllowed } from '../access/repository-access';
import { ProblemError } from '../common/problem';
import { requestFingerprint } from '../common/request-fingerprint';
import type { JobRow } from '../database/database.types';
import { JobsService } from '../pipeline/jobs.service';
import { DOCKER_MANIFEST_LIST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE, OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE } from '../registry/oci-media-types';
import { canonicalRepositoryName, type OciReference, parseOciReference } from '../registry/oci-reference';
import { RegistryClient } from '../registry/registry-client';
import { registryProblem } from '../pipeline/registry-problem';
import { CallbackUrlPolicy } from '../pipeline/callback-url-policy';
import type { SignJobInput } from '../pipeline/job-catalogue';

/** Manifests cosign signs, and so do we. */
const SIGNABLE_MEDIA_TYPES = [OCI_MANIFEST_MEDIA_TYPE, OCI_INDEX_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_LIST_MEDIA_TYPE];

/**
 * Accepts a request to sign an artifact already in a registry: resolves the reference (a tag to its
 * digest) while the caller waits, so a missing manifest or an unsupported one is a 4xx at once, then
 * queues the sign job for that exact digest.
 */
@Injectable()
export class SignRequestService {
  constructor(
    private readonly registry: RegistryClient,
    private readonly jobs: JobsService,
    private readonly callbackPolicy: CallbackUrlPolicy,
  ) {}

  async submit(request: { reference: string; callbackUrl?: string; idempotencyKey?: string; caller: Caller }): Promise<{ job: JobRow; created: boolean }> {
    // A callbackUrl that could never be notified is refused before anything else.
    if (request.callbackUrl) await this.callbackPolicy.assertAllowed(request.callbackUrl);
    // The whole request as sent: a replay is the same request only when every field is the same.
    const fingerprint = requestFingerprint('sign', { reference: request.reference, callbackUrl: request.callbackUrl });
    if (request.idempotencyKey) {
      const replay = await this.jobs.replayOf(request.idempotencyKey, request.caller.principal, fingerprint);
      if (replay) return { job: replay, created: false };
    }
    let reference: OciReference;
    try {
      reference = parseOciReference(request.reference);
    } catch (error) {
      throw new ProblemError(400, 'INVALID_REFERENCE', 'Invalid reference', (error as Error).message);
    }
    if (!reference.tag && !reference.digest) {
      throw new ProblemError(400, 'INVALID_REFERENCE', 'Invalid reference', 'name a digest (@sha256:…) or a tag (:tag) of the artifact to sign');
    }
    const repo = { registry: reference.registry, repository: reference.repository };
    assertRepositoryAllowed(request.caller, canonicalRepositoryName(repo));
    const manifest = await this.registry.getManifest(repo, reference.digest ?? reference.tag!, SIGNABLE_MEDIA_TYPES).catch((error: unknown) => {
      throw registryProblem(error);
    });
    if (!manifest) {
      throw new ProblemError(404, 'MANIFEST_NOT_FOUND', 'No such manifest', `${request.reference} does not exist in the registry`);
    }
    if (!SIGNABLE_MEDIA_TYPES.includes(manifest.mediaType)) {
      throw new ProblemError(
        422,
        'UNSUPPORTED_MEDIA_TYPE',
        'Cannot sign this manifest',
        `manifests of type ${manifest.mediaType} cannot be signed; expected one of ${SIGNABLE_MEDIA_TYPES.join(', ')}`,
      );
    }
    const input: SignJobInput = {
      reference: request.reference,
      repository: `${repo.registry}/${repo.repository}`,
      tag: reference.tag ?? null,
      manifestDigest: manifest.digest,
      manifestMediaType: manifest.mediaType,
      manifestSize: manifest.size,
      wasmDigest: wasmLayerDigest(manifest.bytes),
      requestedBy: request.caller.identity,
    };
    return this.jobs.submit({
      type: 'sign',
      input,
      idempotencyKey: request.idempotencyKey,
      caller: request.caller.principal,
      callbackUrl: request.callbackUrl,
      requestHash: fingerprint,
    });
  }
}

function wasmLayerDigest(manifest: Buffer): string | null {
  try {
    const layers = (JSON.parse(manifest.toString('utf8')) as { layers?: { mediaType?: string; digest?: string }[] }).layers ?? [];
    return layers.find((l) => l.mediaType === WASM_LAYER_MEDIA_TYPE)?.digest ?? null;
  } catch {
    return null;
  }
}
