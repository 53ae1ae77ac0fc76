import type { CallerIdentity } from '../access/caller';
import type { JobRow, SignatureFormat, SignatureVerdict, StepName } from '../database/database.types';

/**
 * The job catalogue: every job type, its steps in order, what each job carries (`input`) and what each
 * step adds to its result. Declared once, here; request services submit typed input, step handlers are
 * typed by (job type, step), and a worker refuses to start while a step has no handler. All of it is
 * plain data: inputs and results are stored as JSON in the jobs table, so a field that is renamed here
 * must still be read from jobs recorded before.
 */

// ── Inputs ────────────────────────────────────────────────────────────────────────────────────────

/** What a publish job carries from the upload to the push step (identifiers and facts, no secrets). */
export interface PublishJobInput {
  repository: string;
  tag: string | null;
  annotations: Record<string, string>;
  /** The layer's title annotation: the file name. */
  title: string;
  /** Fixed at upload, so that a re-run push step writes byte-identical config and manifest. */
  createdAt: string;
  wasm: {
    digest: string;
    size: number;
    kind: 'component' | 'module';
    /** The OCI config `os`: `wasip2` for a component, `wasip1` for a core module. */
    os: 'wasip2' | 'wasip1';
    imports: string[];
    exports: string[];
  };
  /** On whose behalf: recorded with the signatures and carried in the signed payloads (absent in jobs made before access control). */
  requestedBy?: CallerIdentity;
}

/** What a sign job carries: the manifest resolved when the request was accepted. */
export interface SignJobInput {
  /** The reference as the caller gave it (tag or digest). */
  reference: string;
  repository: string;
  tag: string | null;
  manifestDigest: string;
  manifestMediaType: string;
  manifestSize: number;
  wasmDigest: string | null;
  /** On whose behalf: recorded with the signatures and carried in the signed payloads (absent in jobs made before access control). */
  requestedBy?: CallerIdentity;
}

/** Where a build's source comes from: an archive the caller uploaded (kept by digest), or a git commit. */
export type BuildSource = { kind: 'archive'; digest: string; size: number; format: 'tar.gz' | 'zip'; fileName: string | null } | { kind: 'git'; url: string; commit: string };

/** What a build job carries: the source, the builder and its options, and where the component goes. */
export interface BuildJobInput {
  repository: string;
  tag: string | null;
  annotations: Record<string, string>;
  /** Fixed at submission, so that a re-run push step writes byte-identical config and manifest. */
  createdAt: string;
  source: BuildSource;
  builder: { name: 'componentize-js' | 'cargo'; options: Record<string, unknown> };
  /** On whose behalf: recorded with the signatures and carried in the signed payloads. */
  requestedBy?: CallerIdentity;
}

/** What a verify job carries (the policy as the caller wrote it; it holds no secret). */
export interface VerifyJobInput {
  reference: string;
  repository: string;
  digest: string;
  policy: Record<string, unknown>;
  trustRoot: string;
  /** Seconds: a cached verdict checked longer ago is not used (0: a live check). */
  maxAge?: number;
}

/** What a probe job carries: how long each step holds its worker. */
export interface ProbeJobInput {
  holdMs: number;
}

// ── Step results (each is merged into the job's result) ──────────────────────────────────────────

/** What the push step adds to the job result. */
export interface PushResult {
  repository: string;
  reference: string;
  manifestDigest: string;
  manifestMediaType: string;
  manifestSize: number;
  wasmDigest: string;
  tag: string | null;
  artifactId: string;
}

/** One part of a build toolchain, as provenance names it. */
export interface ToolchainComponent {
  name: string;
  version: string;
  /** A package URL (purl). */
  uri: string;
  digest?: { sha256: string };
}

/** What the build step adds: how the component was built, and the component (its blob already in the registry). */
export interface BuildResult {
  build: {
    builder: string;
    toolchain: ToolchainComponent[];
    /** The source as built: archive digest, or git URL, commit and tree. */
    source: { kind: 'archive'; digest: string; fileName: string | null } | { kind: 'git'; url: string; commit: string; tree: string };
    /** sha256:<hex> of Cargo.lock, when the crate has one. */
    cargoLockDigest: string | null;
    /** sha256:<hex> of the build log as kept (BUILD_MAX_LOG_BYTES). */
    logDigest: string;
    logBytes: number;
    logTruncated: boolean;
    startedAt: string;
    finishedAt: string;
    /** The sandbox limits the build ran under. */
    limits: Record<string, number>;
    /** The layer's title annotation: the file name. */
    title: string;
    wasm: PublishJobInput['wasm'];
  };
}

/** What the attest step adds: the signed SLSA provenance, attached as a referrer of the manifest. */
export interface AttestResult {
  provenance: {
    predicateType: string;
    logIndex: number;
    entryUuid: string | null;
    integratedTime: string;
    /** The signing identity (certificate SAN): also the provenance's runDetails.builder.id. */
    builderId: string;
    issuer: string;
    /** The referrer manifest holding the bundle. */
    referrerDigest: string;
  };
}

/** A signature as a job result lists it. */
export interface SignatureSummary {
  id: string;
  format: SignatureFormat;
  logIndex: number;
  entryUuid: string;
  integratedTime: string;
  identity: string;
  issuer: string;
}

/** What the sign step adds: what was signed, by digest, and the signature records made. */
export interface SignResult {
  reference: string;
  manifestDigest: string;
  signatures: SignatureSummary[];
}

/** A verdict on one manifest digest (POST /v1/verifications answers the same). */
export interface VerificationAnswer {
  verified: boolean;
  reference: string;
  digest: string;
  signatures: SignatureVerdict[];
  error: { code: string; message: string } | null;
  /** Reused from an earlier check (the verdict cache), checked at checkedAt (RFC 3339). */
  fromCache: boolean;
  checkedAt: string;
}

/** What the verify step of a publish or sign job adds: the signer's own check, through the registry. */
export interface SignedArtifactVerificationResult {
  verification: {
    verified: boolean;
    policy: { certificateIdentity: string; certificateOidcIssuer: string; trustRoot: string };
    signatures: SignatureVerdict[];
    /** Build jobs: the verdict on the build's provenance attestation. */
    provenance?: Record<string, unknown>;
  };
}

/** What each step of a probe adds: who took which step, and when (the previous steps are kept). */
export interface ProbeResult {
  steps: Partial<Record<StepName, { worker: string; pid: number; at: string }>>;
}

// ── The catalogue ─────────────────────────────────────────────────────────────────────────────────

/** Per job type: its input, and per step the result that step adds. */
export interface JobCatalogue {
  publish: { input: PublishJobInput; steps: { push: PushResult; sign: SignResult; verify: SignedArtifactVerificationResult } };
  sign: { input: SignJobInput; steps: { sign: SignResult; verify: SignedArtifactVerificationResult } };
  build: {
    input: BuildJobInput;
    steps: { build: BuildResult; push: PushResult; sign: SignResult; attest: AttestResult; verify: SignedArtifactVerificationResult };
  };
  verify: { input: VerifyJobInput; steps: { verify: VerificationAnswer } };
  probe: { input: ProbeJobInput; steps: { push: ProbeResult; sign: ProbeResult; attest: ProbeResult; verify: ProbeResult; notify: ProbeResult } };
}

/** Job types that can run: each of their steps has a handler (checked when workers start). */
export type CatalogueJobType = keyof JobCatalogue;
export type JobStepOf<T extends CatalogueJobType> = keyof JobCatalogue[T]['steps'] & StepName;
export type JobInputOf<T extends CatalogueJobType> = JobCatalogue[T]['input'];
export type StepResultOf<T extends CatalogueJobType, S extends JobStepOf<T>> = JobCatalogue[T]['steps'][S];

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
/** A job's whole result once every step ran: each step's result merged. */
export type JobResultOf<T extends CatalogueJobType> = UnionToIntersection<JobCatalogue[T]['steps'][JobStepOf<T>]>;

/** The steps of each job type, in the order they run. */
export const JOB_STEPS = {
  publish: ['push', 'sign', 'verify'],
  sign: ['sign', 'verify'],
  build: ['build', 'push', 'sign', 'attest', 'verify'],
  verify: ['verify'],
  // A probe goes through every step queue that every deployment consumes, so it checks that each has a
  // worker; not `build`, whose workers are optional (BUILD_WORKER).
  probe: ['push', 'sign', 'attest', 'verify', 'notify'],
} as const satisfies { [T in CatalogueJobType]: readonly JobStepOf<T>[] };

// Every step the catalogue types is listed above (and the list names no other): a compile error otherwise.
type Unlisted = { [T in CatalogueJobType]: Exclude<JobStepOf<T>, (typeof JOB_STEPS)[T][number]> }[CatalogueJobType];
const everyStepListed: [Unlisted] extends [never] ? true : { unlisted: Unlisted } = true;
void everyStepListed;

/** A job as its step handlers see it: input and result typed by the catalogue. */
export type CatalogueJob<T extends CatalogueJobType = CatalogueJobType> = T extends CatalogueJobType
  ? Omit<JobRow, 'type' | 'input' | 'result'> & { type: T; input: JobInputOf<T>; result: Partial<JobResultOf<T>> | null }
  : never;

export const isCatalogueJobType = (type: string): type is CatalogueJobType => Object.hasOwn(JOB_STEPS, type);

/** Every (job type, step) pair a handler must be registered for, in catalogue order. */
export function catalogueSteps(): { jobType: CatalogueJobType; step: StepName }[] {
  return (Object.keys(JOB_STEPS) as CatalogueJobType[]).flatMap((jobType) => JOB_STEPS[jobType].map((step) => ({ jobType, step })));
}

/**
 * A stored job row, typed by the catalogue. Rows are written only through `JobsService.submit`, whose
 * input is typed by the same catalogue, so reading them back as that type is sound (for rows written
 * by older versions, keep input and result fields backward compatible).
 */
export function asCatalogueJob(row: JobRow): CatalogueJob | undefined {
  return isCatalogueJob(row) ? row : undefined;
}

const isCatalogueJob = (row: JobRow): row is JobRow & CatalogueJob => isCatalogueJobType(row.type);
