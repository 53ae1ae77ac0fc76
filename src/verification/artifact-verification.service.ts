import type { Caller } from '../access/caller';
import { assertRepositoryAllowed } from '../access/repository-access';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { TrustMaterial } from '@sigstore/verify';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { ExpiringLruCache } from '../common/expiring-lru-cache';
import { MetricsService } from '../metrics/metrics.service';
import { VerdictInvalidations } from '../pipeline/verdict-invalidations';
import { trustedRootDigest } from '../sigstore/trusted-root';
import { BundleVerificationPool, VerificationBusyError } from '../sigstore/bundle-verification-pool';
import type { TrustRootLoader } from '../sigstore/trust-root-loader';
import { VerdictCache } from './verdict-cache';
import { MAX_ANNOTATION_KEY_LENGTH, MAX_ANNOTATION_VALUE_LENGTH, MAX_ANNOTATIONS } from '../common/field-limits';
import { ProblemError } from '../common/problem';
import { requestFingerprint } from '../common/request-fingerprint';
import { ALL_MANIFEST_MEDIA_TYPES } from '../registry/oci-media-types';
import { canonicalRepositoryName, dockerReference, type OciReference, type OciRepository, parseOciReference } from '../registry/oci-reference';
import { RegistryClient } from '../registry/registry-client';
import type { JobRow } from '../database/database.types';
import type { VerifyJobInput } from '../pipeline/job-catalogue';
import { JobsService } from '../pipeline/jobs.service';
import { registryProblem } from '../pipeline/registry-problem';
import { type ArtifactPolicy, ArtifactVerifier } from './artifact-verification';
import type { ArtifactVerificationDto } from './artifact-verification.dto';
import { ImmutableContentCache, discoverSignatures } from './signature-discovery';
import { buildSignerPolicy } from './signer-policy-request';
import { buildProvenancePolicy } from './provenance-policy-request';
import { ProvenanceVerifier, verifyProvenance } from './provenance-verification';
import { DEFAULT_TRUST_ROOT, TrustRoots } from './trust-roots';
import { VerificationError, verificationBusy, verificationProblem } from './verification-errors';
import { VerificationRecords } from './verification-records.repository';
import { CallbackUrlPolicy } from '../pipeline/callback-url-policy';
import { JobObservers } from '../pipeline/job-observers';
import { VerificationRecordDto } from './verification-record.dto';

/**
 * POST /v1/verifications: may this artifact run? Resolves the reference, finds every signature live in
 * the registry and judges each against the policy and the trust root. A request that cannot be read is
 * a 4xx; a signature that does not verify is an answer (verified: false, with a code), never an error.
 *
 * Verdicts are reused for a while (VerdictCache: same digest, repository, whole policy and trust root);
 * every answer says whether it was (`fromCache`) and when it was checked (`checkedAt`), and a request
 * may ask for one checked at most `maxAge` seconds ago. Tag resolutions are reused briefly, separately.
 */
@Injectable()
export class ArtifactVerificationService implements OnModuleInit {
  private readonly verifier: ArtifactVerifier;
  private readonly provenanceVerifier: ProvenanceVerifier;
  private readonly content = new ImmutableContentCache();
  private readonly verdicts: VerdictCache<Verdict>;
  private readonly tags: ExpiringLruCache<string, string>;
  private readonly tagTtlMs: number;
  /** Digests of the trust roots' contents, by the material loaded from them (each root is loaded once). */
  private readonly trustDigests = new WeakMap<TrustMaterial, string>();
  /** The record's JSON of a cached verdict's signatures, by that (frozen) array. */
  private readonly signaturesJsonByVerdict = new WeakMap<object, string>();

  constructor(
    private readonly registry: RegistryClient,
    private readonly trustRoots: TrustRoots,
    private readonly jobs: JobsService,
    private readonly records: VerificationRecords,
    private readonly observers: JobObservers,
    private readonly callbackPolicy: CallbackUrlPolicy,
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'verification'>,
    private readonly invalidations: VerdictInvalidations,
    private readonly metrics: MetricsService,
    pool: BundleVerificationPool,
  ) {
    this.verifier = new ArtifactVerifier({ pool });
    this.provenanceVerifier = new ProvenanceVerifier({ pool });
    const { cache } = config.verification;
    this.verdicts = new VerdictCache({ maxEntries: cache.maxEntries, ttlMs: cache.ttlSeconds * 1000, failedTtlMs: cache.failedTtlSeconds * 1000 });
    this.tags = new ExpiringLruCache(cache.maxEntries);
    this.tagTtlMs = cache.tagTtlSeconds * 1000;
  }

  /** Signatures attached anywhere (this or another process) drop the verdicts on that digest at once. */
  onModuleInit(): void {
    // undefined: invalidations may have been missed while the subscriber was away; none is trusted.
    this.invalidations.subscribe((subject) => (subject === undefined ? this.verdicts.invalidateAll() : this.verdicts.invalidate(subject)));
  }

  /** Answers at once; the verification is recorded and its event (verification.succeeded/failed) emitted. */
  async verify(request: VerificationRequest & { caller: Caller }): Promise<ArtifactVerificationDto> {
    const { repo, digest, policy, trustName } = await this.read(request);
    let answer: ArtifactVerificationDto;
    try {
      answer = await this.verifyDigest(repo, digest, policy, trustName, undefined, request.maxAge ?? undefined);
    } catch (error) {
      throw verificationProblem(registryProblem(error));
    }
    const record = await this.records.record({
      reference: request.reference,
      policy: request.policy,
      trustRoot: trustName,
      answer,
      caller: request.caller.principal,
      signaturesJson: this.signaturesJson(answer.signatures),
    });
    await this.observers.afterVerification(record, { ...VerificationRecordDto.from(record) });
    return answer;
  }

  /** Queues the verification as a job (type verify); its result is the answer `verify` would give. */
  async submit(request: VerificationRequest & { callbackUrl?: string; idempotencyKey?: string; caller: Caller }): Promise<JobRow> {
    // A callbackUrl that could never be notified is refused before anything else.
    if (request.callbackUrl) await this.callbackPolicy.assertAllowed(request.callbackUrl);
    // The whole request as sent (a tag is fingerprinted as the tag, not the digest it resolves to now).
    const fingerprint = requestFingerprint('verify', {
      reference: request.reference,
      policy: request.policy,
      trustRoot: request.trustRoot,
      callbackUrl: request.callbackUrl,
      maxAge: request.maxAge ?? undefined,
    });
    if (request.idempotencyKey) {
      const replay = await this.jobs.replayOf(request.idempotencyKey, request.caller.principal, fingerprint);
      if (replay) return replay;
    }
    const { repo, digest, trustName } = await this.read(request);
    const input: VerifyJobInput = {
      reference: request.reference,
      repository: `${repo.registry}/${repo.repository}`,
      digest,
      policy: request.policy,
      trustRoot: trustName,
      ...(request.maxAge == null ? {} : { maxAge: request.maxAge }),
    };
    const { job } = await this.jobs.submit({
      type: 'verify',
      input,
      idempotencyKey: request.idempotencyKey,
      caller: request.caller.principal,
      callbackUrl: request.callbackUrl,
      requestHash: fingerprint,
    });
    return job;
  }

  /** Everything a request must get right before any verification: reference (tag resolved), policy, trust root. */
  private async read(request: VerificationRequest & { caller: Caller }) {
    const reference = readReference(request.reference);
    // The service reads the registry with its own credentials: only for repositories the caller may use.
    assertRepositoryAllowed(request.caller, canonicalRepositoryName(reference));
    const policy = readPolicy(request.policy);
    const trustName = request.trustRoot ?? DEFAULT_TRUST_ROOT;
    this.trustRoots.get(trustName); // an unknown name is a 422 before any registry call
    const repo = { registry: reference.registry, repository: reference.repository };
    const digest = reference.digest ?? (await this.resolveTag(repo, reference, request.maxAge ?? undefined));
    return { repo, digest, policy, trustName };
  }

  /**
   * The verdict on one manifest digest: its signatures found live in the registry, each judged against
   * the policy and the named trust root, and when the policy asks for it its build provenance (verified
   * then only when both are). Registry and trust root failures are thrown as CodedErrors
   * (transient or not): requests and the verify steps both run this.
   *
   * A verdict checked at most maxAgeSeconds ago (any within the cache's TTL when undefined; 0: none)
   * for the same repository, digest, whole policy and trust root content is answered from the cache.
   */
  async verifyDigest(
    repo: OciRepository,
    digest: string,
    policy: ArtifactPolicy,
    trustName = DEFAULT_TRUST_ROOT,
    signal?: AbortSignal,
    maxAgeSeconds?: number,
  ): Promise<ArtifactVerificationDto> {
    // Requests check the name before; a job may meet a root removed from the configuration since.
    if (!this.trustRoots.names.includes(trustName)) {
      throw new VerificationError('TRUST_ROOT_NOT_FOUND', `there is no trust root named ${JSON.stringify(trustName)}; configured: ${this.trustRoots.names.join(', ')}`);
    }
    const loader = this.trustRoots.get(trustName);
    const { material, root } = await loader.load().catch((error: unknown) => {
      throw new VerificationError('TRUST_ROOT_UNAVAILABLE', `${trustName}: ${(error as Error).message}`, { transient: true, cause: error });
    });
    const trust = { name: trustName, material, root };
    const key = { repository: dockerReference(repo), digest, policy, trustRoot: { name: trustName, contentDigest: this.trustDigest(loader, material) } };
    if (maxAgeSeconds !== 0) {
      const hit = this.verdicts.lookup(key, maxAgeSeconds === undefined ? undefined : maxAgeSeconds * 1000);
      this.metrics.verificationCache.inc({ outcome: hit ? 'hit' : 'miss' });
      // The cached verdict is deeply frozen: shared by every answer made from it, copied by none.
      if (hit) return { ...hit.verdict, fromCache: true, checkedAt: new Date(hit.checkedAt).toISOString() };
    } else {
      this.metrics.verificationCache.inc({ outcome: 'miss' });
    }
    // Taken before the registry is read: the verdict is no older than this, and one computed while an
    // invalidation arrived is not kept.
    const token = this.verdicts.begin();
    const checkedAt = Date.now();
    const provenancePolicy = policy.provenance;
    const [signatures, provenance] = await Promise.all([
      discoverSignatures(this.registry, repo, digest, signal, this.content).then((found) =>
        Promise.all(found.map((signature) => this.verifier.verdict(signature, digest, policy, trust))),
      ),
      provenancePolicy
        ? verifyProvenance(this.registry, repo, digest, { signer: policy.signer, provenance: provenancePolicy }, trust, signal, {
            cache: this.content,
            verifier: this.provenanceVerifier,
          })
        : null,
    ]).catch((error: unknown) => {
      throw error instanceof VerificationBusyError ? verificationBusy(error) : error;
    });
    const signed = signatures.some((s) => s.verified);
    const verdict: Verdict = {
      verified: signed && (provenance === null || provenance.verified),
      reference: `${repo.registry}/${repo.repository}@${digest}`,
      digest,
      signatures,
      provenance,
      error: signed
        ? (provenance?.error ?? null)
        : signatures.length === 0
          ? { code: 'NO_SIGNATURES', message: `no cosign or Sigstore bundle signature was found for ${digest}` }
          : { code: 'NO_VERIFIED_SIGNATURE', message: `none of the ${signatures.length} signature(s) satisfies the policy` },
    };
    this.verdicts.store(key, deepFreeze(structuredClone(verdict)), checkedAt, token);
    return { ...verdict, fromCache: false, checkedAt: new Date(checkedAt).toISOString() };
  }

  /**
   * The signatures' verdicts as the record stores them: serialised once per cached verdict (answers
   * made from one share its frozen array), else for this answer alone.
   */
  private signaturesJson(signatures: ArtifactVerificationDto['signatures']): string {
    let json = this.signaturesJsonByVerdict.get(signatures);
    if (json === undefined) {
      json = JSON.stringify(signatures);
      if (Object.isFrozen(signatures)) this.signaturesJsonByVerdict.set(signatures, json);
    }
    return json;
  }

  /** The trust root's content digest (computed once per load); a root read some other way is known by its material alone. */
  private trustDigest(loader: TrustRootLoader, material: TrustMaterial): string {
    let digest = this.trustDigests.get(material);
    if (!digest) {
      const root = loader.loaded?.material === material ? loader.loaded.root : undefined;
      digest = root ? trustedRootDigest(root) : `material-${++trustMaterialSerial}`;
      this.trustDigests.set(material, digest);
    }
    return digest;
  }

  /** The digest a tag names now (reused for TAG_RESOLUTION_CACHE_TTL_SECONDS); registry failures are thrown as problems. */
  async resolveTag(repo: OciRepository, reference: OciReference, maxAgeSeconds?: number): Promise<string> {
    const key = `${dockerReference(repo)}:${reference.tag!}`;
    if (maxAgeSeconds !== 0) {
      const cached = this.tags.get(key, maxAgeSeconds === undefined ? undefined : maxAgeSeconds * 1000);
      if (cached) return cached.value;
    }
    const resolvedAt = Date.now();
    const head = await this.registry.headManifest(repo, reference.tag!, ALL_MANIFEST_MEDIA_TYPES).catch((error: unknown) => {
      throw registryProblem(error);
    });
    if (!head) throw new ProblemError(404, 'MANIFEST_NOT_FOUND', 'No such manifest', `${reference.registry}/${reference.repository}:${reference.tag} does not exist`);
    this.tags.set(key, head.digest, this.tagTtlMs, resolvedAt);
    return head.digest;
  }
}

function readReference(text: string): OciReference {
  let reference: OciReference;
  try {
    reference = parseOciReference(text);
  } catch (error) {
    throw new ProblemError(400, 'INVALID_REFERENCE', 'Invalid reference', (error as Error).message);
  }
  if (!reference.tag && !reference.digest) throw new ProblemError(400, 'INVALID_REFERENCE', 'Invalid reference', 'name a digest (@sha256:…) or a tag (:tag)');
  return reference;
}

export interface VerificationRequest {
  reference: string;
  policy: Record<string, unknown>;
  trustRoot?: string;
  /** Seconds: a cached verdict (or tag resolution) checked longer ago is not used; 0: a live check. null: as absent (like every optional field). */
  maxAge?: number | null;
}

/** The answer without where it came from: what the verdict cache keeps. */
type Verdict = Omit<ArtifactVerificationDto, 'fromCache' | 'checkedAt'>;

/** Freezes value and everything it holds (plain data: a verdict as structuredClone copied it). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

/** Names trust materials that were not loaded from a trusted root document (tests). */
let trustMaterialSerial = 0;

export type { VerifyJobInput };

export function readPolicy(input: Record<string, unknown>): ArtifactPolicy {
  const { annotations, provenance, ...signerFields } = input;
  if (
    annotations !== undefined &&
    (typeof annotations !== 'object' || annotations === null || Array.isArray(annotations) || Object.values(annotations).some((v) => typeof v !== 'string'))
  ) {
    throw new ProblemError(400, 'INVALID_POLICY', 'The verification policy is not valid', 'policy.annotations must be an object of strings');
  }
  const entries = Object.entries((annotations as Record<string, string> | undefined) ?? {});
  const tooLong = entries.find(([key, value]) => key.length > MAX_ANNOTATION_KEY_LENGTH || value.length > MAX_ANNOTATION_VALUE_LENGTH);
  if (entries.length > MAX_ANNOTATIONS || tooLong) {
    throw new ProblemError(
      400,
      'INVALID_POLICY',
      'The verification policy is not valid',
      `policy.annotations may hold at most ${MAX_ANNOTATIONS} entries, keys of at most ${MAX_ANNOTATION_KEY_LENGTH} characters and values of at most ${MAX_ANNOTATION_VALUE_LENGTH}`,
    );
  }
  const signer = buildSignerPolicy(signerFields);
  return {
    signer,
    annotations: (annotations as Record<string, string> | undefined) ?? {},
    ...(provenance === undefined ? {} : { provenance: buildProvenancePolicy(provenance, signer) }),
  };
}
