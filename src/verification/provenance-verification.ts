import { createHash } from 'node:crypto';
import { errorCodes } from '../common/coded-error';
import { LruCache } from '../common/lru-cache';
import type { OciRepository } from '../registry/oci-reference';
import type { RegistryClient } from '../registry/registry-client';
import { IN_TOTO_PAYLOAD_TYPE } from '../signature-formats/sigstore-bundle-referrer';
import { type ParsedProvenance, type ProvenanceSource, SLSA_PROVENANCE_PREDICATE_TYPE, WASM_COMPONENT_BUILD_TYPE, parseSlsaProvenance } from '../signature-formats/slsa-provenance';
import { BundleVerificationPool, type VerificationTrust } from '../sigstore/bundle-verification-pool';
import { type SignerPolicy, type StringMatcher, describeMatcher, matches } from '../sigstore/signer-policy';
import { type DiscoveredSignature, type ImmutableContentCache, discoverAttestations } from './signature-discovery';
import { tlogEntryFacts } from './tlog-entry-facts';
import { matcherKey, signerPolicyKey, trustMaterialKey } from './verification-memo-key';

/**
 * Verifying the build provenance of a manifest digest: an SLSA Provenance v1 attestation (a DSSE bundle
 * attached as a referrer) that sigstore-js verifies against the trust root and the signer policy, whose
 * statement names the digest, has our build type, was signed by the builder it names, and says what the
 * policy requires of the source and the builder.
 */

/** What a policy may require of the provenance; `{}` asks only for a valid attestation. */
export interface ProvenancePolicy {
  /** runDetails.builder.id (always also the signing certificate's identity). */
  builderId?: StringMatcher;
  /** The source archive's digest, `sha256:<hex>`. */
  sourceDigest?: string;
  /** The source git repository's URL (compared without a `git+` prefix, `.git` suffix or trailing slash). */
  sourceRepository?: string;
  /** externalParameters.builder.name (`cargo`, `componentize-js`, …). */
  builder?: string;
}

/** Who must have signed the attestation (the policy's signer), and what it must say. */
export interface ProvenanceVerificationPolicy {
  signer: SignerPolicy;
  provenance: ProvenancePolicy;
}

/**
 * Why provenance does not verify. In the order of the checks: when several attestations fail, the one
 * that got furthest is reported.
 */
export const PROVENANCE_ERROR_CODES = errorCodes(
  'PROVENANCE_MISSING',
  'PROVENANCE_SIGNATURE_INVALID',
  'PROVENANCE_STATEMENT_INVALID',
  'PROVENANCE_SUBJECT_MISMATCH',
  'PROVENANCE_BUILD_TYPE_UNKNOWN',
  'PROVENANCE_BUILDER_ID_MISMATCH',
  'PROVENANCE_SOURCE_MISMATCH',
  'PROVENANCE_BUILDER_MISMATCH',
);
export type ProvenanceErrorCode = keyof typeof PROVENANCE_ERROR_CODES;
export interface ProvenanceFailure {
  code: ProvenanceErrorCode;
  message: string;
}

/** The verdict on the provenance of one digest: the attestation that verified, else the best failure. */
export interface ProvenanceVerdict {
  verified: boolean;
  /** The attestation's Rekor log index. */
  logIndex: number | null;
  builderId: string | null;
  builder: string | null;
  source: ProvenanceSource | null;
  invocationId: string | null;
  /** The referrer it was found in; null when there is none. */
  location: string | null;
  error: ProvenanceFailure | null;
}

/**
 * What the statement's claims fail of the policy, or null when they hold. Pure: `signerIdentity` is the
 * verified certificate identity of the attestation (null when it was signed with a key). The builder id
 * must be that identity, else anyone able to sign could claim to be any builder.
 */
export function provenanceFailure(statement: ParsedProvenance, signerIdentity: string | null, digest: string, policy: ProvenancePolicy): ProvenanceFailure | null {
  const hex = digest.slice(digest.indexOf(':') + 1).toLowerCase();
  if (!statement.subjects.some((subject) => subject.digest.sha256?.toLowerCase() === hex)) {
    const named = statement.subjects.flatMap((subject) => Object.entries(subject.digest).map(([algorithm, value]) => `${algorithm}:${value}`));
    return fail('PROVENANCE_SUBJECT_MISMATCH', `${digest} is not a subject of the provenance (it names ${named.length > 0 ? named.join(', ') : 'no digests'})`);
  }
  if (statement.buildType !== WASM_COMPONENT_BUILD_TYPE) {
    return fail('PROVENANCE_BUILD_TYPE_UNKNOWN', `the build type is ${JSON.stringify(statement.buildType)}, not ${WASM_COMPONENT_BUILD_TYPE}`);
  }
  if (signerIdentity === null || statement.builderId !== signerIdentity) {
    return fail(
      'PROVENANCE_BUILDER_ID_MISMATCH',
      signerIdentity === null
        ? `the provenance is signed with a key, not a certificate: nothing vouches for its builder id ${JSON.stringify(statement.builderId)}`
        : `the provenance names the builder ${JSON.stringify(statement.builderId)} but is signed by ${JSON.stringify(signerIdentity)}`,
    );
  }
  if (policy.builderId && !matches(policy.builderId, statement.builderId)) {
    return fail('PROVENANCE_BUILDER_ID_MISMATCH', `the builder id ${JSON.stringify(statement.builderId)} does not match ${describeMatcher(policy.builderId)}`);
  }
  const source = statement.source;
  if (policy.sourceDigest !== undefined && !(source?.kind === 'archive' && source.digest.toLowerCase() === policy.sourceDigest.toLowerCase())) {
    return fail('PROVENANCE_SOURCE_MISMATCH', `the source is ${describeSource(source)}, not the archive ${policy.sourceDigest}`);
  }
  if (policy.sourceRepository !== undefined && !(source?.kind === 'git' && repositoryKey(source.url) === repositoryKey(policy.sourceRepository))) {
    return fail('PROVENANCE_SOURCE_MISMATCH', `the source is ${describeSource(source)}, not the git repository ${policy.sourceRepository}`);
  }
  if (policy.builder !== undefined && statement.builder !== policy.builder) {
    return fail('PROVENANCE_BUILDER_MISMATCH', `the component was built with ${JSON.stringify(statement.builder)}, not ${JSON.stringify(policy.builder)}`);
  }
  return null;
}

type AttestationOutcome = Omit<ProvenanceVerdict, 'location' | 'logIndex'>;

/**
 * Decides about one provenance attestation. Verifying the bundle is CPU work of milliseconds and a pure
 * function of its bytes, the digest, the policy and the trust root: the outcome is memoized by content,
 * as ArtifactVerifier does for signatures.
 */
export class ProvenanceVerifier {
  private readonly memo: LruCache<string, AttestationOutcome>;
  private readonly pool: BundleVerificationPool;

  constructor(options: { pool?: BundleVerificationPool; capacity?: number } = {}) {
    this.memo = new LruCache(options.capacity ?? 10_000);
    this.pool = options.pool ?? new BundleVerificationPool();
  }

  async verdict(found: DiscoveredSignature, digest: string, policy: ProvenanceVerificationPolicy, trust: VerificationTrust): Promise<ProvenanceVerdict> {
    const base = { location: found.location, logIndex: tlogEntryFacts(found.bundle).logIndex };
    if (found.unreadable) {
      const error = fail('PROVENANCE_SIGNATURE_INVALID', `the attestation cannot be read (${found.unreadable.code}): ${found.unreadable.message}`);
      return { ...base, ...NO_FACTS, verified: false, error };
    }
    const key = memoKey(found, digest, policy, trust);
    let outcome = this.memo.get(key);
    if (!outcome) {
      const decided = await decide(this.pool, found.bundle, digest, policy, trust);
      outcome = decided.outcome;
      // A thread that failed on the bundle says nothing about it for good: not remembered.
      if (!decided.verifierFailed) this.memo.set(key, outcome);
    }
    return { ...base, ...outcome };
  }
}

const NO_FACTS = { builderId: null, builder: null, source: null, invocationId: null };

async function decide(
  pool: BundleVerificationPool,
  bundle: unknown,
  digest: string,
  policy: ProvenanceVerificationPolicy,
  trust: VerificationTrust,
): Promise<{ outcome: AttestationOutcome; verifierFailed: boolean }> {
  // No artifact: the in-toto subject is checked below, so that a mismatch has its own code.
  const outcome = await pool.verify(bundle, { artifact: undefined, policy: policy.signer, trust });
  if (!outcome.verified) {
    const error = fail('PROVENANCE_SIGNATURE_INVALID', `${outcome.error.code}: ${outcome.error.message}`);
    return { outcome: { ...NO_FACTS, verified: false, error }, verifierFailed: outcome.error.code === 'VERIFIER_FAILED' };
  }
  return { outcome: judgeStatement(bundle, digest, policy, outcome.identity), verifierFailed: false };
}

/** What the verified attestation says, against the policy. */
function judgeStatement(bundle: unknown, digest: string, policy: ProvenanceVerificationPolicy, signerIdentity: string | null): AttestationOutcome {
  const statement = signedStatement(bundle);
  if (!statement) {
    return {
      ...NO_FACTS,
      verified: false,
      error: fail('PROVENANCE_STATEMENT_INVALID', `the signed payload is not an in-toto statement with predicate type ${SLSA_PROVENANCE_PREDICATE_TYPE}`),
    };
  }
  const facts = { builderId: statement.builderId, builder: statement.builder, source: statement.source, invocationId: statement.invocationId };
  const error = provenanceFailure(statement, signerIdentity, digest, policy.provenance);
  return { ...facts, verified: error === null, error };
}

/** The SLSA statement in a (verified) bundle's DSSE envelope; undefined when it holds none. */
function signedStatement(bundle: unknown): ParsedProvenance | undefined {
  const envelope = (bundle as { dsseEnvelope?: { payload?: unknown; payloadType?: unknown } }).dsseEnvelope;
  if (envelope?.payloadType !== IN_TOTO_PAYLOAD_TYPE || typeof envelope.payload !== 'string') return undefined;
  return parseSlsaProvenance(Buffer.from(envelope.payload, 'base64'));
}

/**
 * The provenance of a manifest digest, live from the registry: every SLSA attestation attached (the
 * newest MAX_SIGNATURES_PER_FORMAT) is judged, one per event-loop turn; verified when any satisfies the
 * policy, else the failure of the one that got furthest (PROVENANCE_MISSING when there is none).
 * Registry failures are thrown, as discovery throws them.
 */
export async function verifyProvenance(
  registry: RegistryClient,
  repo: OciRepository,
  digest: string,
  policy: ProvenanceVerificationPolicy,
  trust: VerificationTrust,
  signal?: AbortSignal,
  context: { cache?: Pick<ImmutableContentCache, 'read'>; verifier?: ProvenanceVerifier } = {},
): Promise<ProvenanceVerdict> {
  const verifier = context.verifier ?? sharedVerifier;
  const found = await discoverAttestations(registry, repo, digest, SLSA_PROVENANCE_PREDICATE_TYPE, signal, context.cache);
  const verdicts = await Promise.all(found.map((attestation) => verifier.verdict(attestation, digest, policy, trust)));
  return bestVerdict(verdicts, digest);
}

/** The verdict a caller gets from several: the newest that verified, else the failure that got furthest (the newest of equals). */
export function bestVerdict(verdicts: ProvenanceVerdict[], digest: string): ProvenanceVerdict {
  const verified = verdicts.filter((verdict) => verdict.verified).at(-1);
  if (verified) return verified;
  const rank = (verdict: ProvenanceVerdict) => CHECK_ORDER.indexOf(verdict.error!.code);
  const best = verdicts.reduce<ProvenanceVerdict | undefined>((kept, verdict) => (kept === undefined || rank(verdict) >= rank(kept) ? verdict : kept), undefined);
  return (
    best ?? {
      verified: false,
      logIndex: null,
      ...NO_FACTS,
      location: null,
      error: fail('PROVENANCE_MISSING', `no SLSA provenance attestation (a Sigstore bundle referrer of predicate type ${SLSA_PROVENANCE_PREDICATE_TYPE}) was found for ${digest}`),
    }
  );
}

const CHECK_ORDER = Object.keys(PROVENANCE_ERROR_CODES) as ProvenanceErrorCode[];
/** Used when the caller keeps no verifier of its own (the verify step of a build job). */
const sharedVerifier = new ProvenanceVerifier();

const fail = (code: ProvenanceErrorCode, message: string): ProvenanceFailure => ({ code, message });

function describeSource(source: ProvenanceSource | null): string {
  if (!source) return 'not stated';
  return source.kind === 'archive' ? `the archive ${source.digest}` : `the git repository ${source.url} at ${source.commit}`;
}

/** A repository URL as compared: no `git+` prefix, `.git` suffix or trailing slash; scheme and host in lower case. */
function repositoryKey(url: string): string {
  const trimmed = url
    .replace(/^git\+/, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '');
  return trimmed.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/]*)/i, (origin) => origin.toLowerCase());
}

function memoKey(found: DiscoveredSignature, digest: string, policy: ProvenanceVerificationPolicy, trust: VerificationTrust): string {
  const { builderId, ...rest } = policy.provenance;
  const provenanceKey = [builderId ? matcherKey(builderId) : null, rest.sourceDigest ?? null, rest.sourceRepository ?? null, rest.builder ?? null];
  return createHash('sha256')
    .update(JSON.stringify(['provenance', found.bundle, digest, signerPolicyKey(policy.signer), provenanceKey, trustMaterialKey(trust)]))
    .digest('hex');
}
