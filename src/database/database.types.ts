import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Row types of the system of record. One schema for PostgreSQL and embedded PGlite. */

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export type JobType = 'publish' | 'sign' | 'build' | 'verify' | 'probe';
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed';
export type StepName = 'build' | 'push' | 'sign' | 'attest' | 'verify' | 'notify';
export type StepState = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

export interface JobStep {
  name: StepName;
  state: StepState;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  /** Which worker process ran the step last (INSTANCE_ID). */
  worker: string | null;
  error: { code: string; message: string } | null;
}

export interface JobError {
  code: string;
  message: string;
  step?: StepName;
}

export interface JobsTable {
  id: Generated<string>;
  type: JobType;
  state: JobState;
  idempotency_key: string | null;
  /** sha256 of the request that created the job, to refuse a reused Idempotency-Key with another request. */
  request_hash: string | null;
  caller: string | null;
  input: Json<Record<string, unknown>>;
  steps: Json<JobStep[]>;
  result: Json<Record<string, unknown>> | null;
  error: Json<JobError> | null;
  callback_url: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  /** When its pipeline was added to the queues; null while it is not (yet) known to be there. */
  enqueued_at: Timestamp | null;
  /** When a worker last said it is still running the current step (every third of the sweep's grace period). */
  step_heartbeat_at: Timestamp | null;
}

export interface ArtifactsTable {
  id: Generated<string>;
  repository: string;
  tag: string | null;
  manifest_digest: string;
  wasm_digest: string;
  wasm_size: number;
  /** `component` (os wasip2) or `module` (os wasip1). */
  wasm_kind: 'component' | 'module';
  config_json: Json<Record<string, unknown>>;
  annotations: Json<Record<string, string>>;
  job_id: string | null;
  caller: string | null;
  created_at: CreatedAt;
}

export type SignatureFormat = 'cosign-classic' | 'sigstore-bundle';

export interface SignaturesTable {
  id: Generated<string>;
  job_id: string | null;
  artifact_id: string | null;
  repository: string;
  /** The reference as the caller gave it (tag or digest). */
  reference: string;
  manifest_digest: string;
  wasm_digest: string | null;
  format: SignatureFormat;
  rekor_log_index: number;
  rekor_entry_uuid: string;
  rekor_integrated_time: Timestamp;
  rekor_log_id: string;
  certificate_pem: string;
  /** Subject alternative name of the signing certificate (the workload identity). */
  identity: string;
  /** OIDC issuer from the certificate's Fulcio extension. */
  issuer: string;
  certificate_not_before: Timestamp;
  certificate_not_after: Timestamp;
  bundle: Json<Record<string, unknown>>;
  caller: string | null;
  /** Who asked for the signature (the CallerIdentity: API key id and name, or OIDC issuer, subject, rule and claims). */
  requested_by: Json<Record<string, unknown>> | null;
  created_at: CreatedAt;
}

/** One signature's verdict as a verification record keeps it (SignatureVerdictDto). */
export interface SignatureVerdict {
  format: SignatureFormat;
  location: string;
  verified: boolean;
  identity: string | null;
  issuer: string | null;
  logIndex: number | null;
  integratedTime: string | null;
  error: { code: string; message: string } | null;
}

export interface VerificationsTable {
  id: Generated<string>;
  /** The reference as the caller gave it (tag or digest). */
  reference: string;
  repository: string;
  /** The manifest digest that was verified. */
  digest: string;
  /** The policy as the caller wrote it. */
  policy: Json<Record<string, unknown>>;
  trust_root: string;
  verified: boolean;
  error_code: string | null;
  error_message: string | null;
  signatures: Json<SignatureVerdict[]>;
  /** The verify job, or the publish or sign job whose verify step this was; null when answered at once. */
  job_id: string | null;
  caller: string | null;
  created_at: CreatedAt;
}

/** Attestations the service signed (the SLSA provenance of builds), with their Rekor entries. */
export interface AttestationsTable {
  id: Generated<string>;
  job_id: string | null;
  repository: string;
  /** The manifest the attestation is about: its in-toto subject and its referrer's subject. */
  manifest_digest: string;
  predicate_type: string;
  /** sha256 of the signed in-toto statement. */
  statement_digest: string;
  rekor_log_index: ColumnType<number, number | string, number | string>;
  rekor_entry_uuid: string | null;
  rekor_integrated_time: Timestamp;
  /** The certificate identity: for provenance, also its builder id. */
  identity: string;
  issuer: string;
  bundle: Json<Record<string, unknown>>;
  caller: string | null;
  created_at: CreatedAt;
}

export interface Database {
  jobs: JobsTable;
  artifacts: ArtifactsTable;
  signatures: SignaturesTable;
  verifications: VerificationsTable;
  attestations: AttestationsTable;
}

export type JobRow = Selectable<JobsTable>;
export type NewJobRow = Insertable<JobsTable>;
export type JobUpdate = Updateable<JobsTable>;
export type ArtifactRow = Selectable<ArtifactsTable>;
export type SignatureRow = Selectable<SignaturesTable>;
export type VerificationRow = Selectable<VerificationsTable>;
export type AttestationRow = Selectable<AttestationsTable>;
