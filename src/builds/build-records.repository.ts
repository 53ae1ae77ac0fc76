import { Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { isUuid } from '../common/uuid';
import { DatabaseService } from '../database/database.service';
import type { ToolchainComponent } from '../pipeline/job-catalogue';
import type { BuildRow, BuildTables } from './build-tables';

/** What a finished build adds to its record. */
export interface BuildOutcomeRecord {
  toolchain: ToolchainComponent[];
  cargoLockDigest: string | null;
  log: string;
  logDigest: string;
  logBytes: number;
  logTruncated: boolean;
  wasmDigest: string | null;
  startedAt: Date;
  finishedAt: Date;
}

/** The provenance attestation of a build, as its record shows it. */
export interface BuildAttestationSummary {
  id: string;
  predicateType: string;
  manifestDigest: string;
  statementDigest: string;
  logIndex: number;
  entryUuid: string | null;
  integratedTime: Date;
  identity: string;
  issuer: string;
}

/** Build records: one per build job, made when the job is accepted and completed by the build step. */
@Injectable()
export class BuildRecordsRepository {
  constructor(private readonly database: DatabaseService) {}

  private get db() {
    return this.database.db.withTables<BuildTables>();
  }

  async create(record: {
    jobId: string;
    builder: string;
    builderOptions: Record<string, unknown>;
    source: Record<string, unknown>;
    repository: string;
    caller: string | null;
  }): Promise<void> {
    await this.db
      .insertInto('builds')
      .values({
        job_id: record.jobId,
        builder: record.builder,
        builder_options: JSON.stringify(record.builderOptions),
        source: JSON.stringify(record.source),
        repository: record.repository,
        caller: record.caller,
      })
      .onConflict((oc) => oc.column('job_id').doNothing())
      .execute();
  }

  /** A build attempt starts: the log and outcome an earlier attempt recorded are cleared. */
  async attemptStarted(jobId: string): Promise<void> {
    await this.db
      .updateTable('builds')
      .set({ log: null, log_digest: null, log_bytes: null, log_truncated: null, wasm_digest: null, toolchain: null, finished_at: null })
      .where('job_id', '=', jobId)
      .execute();
  }

  /** Records how the build ran (a re-run of the step overwrites what a crashed attempt left). */
  async finished(jobId: string, outcome: BuildOutcomeRecord & { source: Record<string, unknown> }): Promise<void> {
    await this.db
      .updateTable('builds')
      .set({
        // What the build learnt of its source (a git tree) joins what the request said (size, format).
        source: sql<string>`source || ${JSON.stringify(outcome.source)}::jsonb`,
        toolchain: JSON.stringify(outcome.toolchain),
        cargo_lock_digest: outcome.cargoLockDigest,
        log: outcome.log,
        log_digest: outcome.logDigest,
        log_bytes: outcome.logBytes,
        log_truncated: outcome.logTruncated,
        wasm_digest: outcome.wasmDigest,
        started_at: outcome.startedAt,
        finished_at: outcome.finishedAt,
      })
      .where('job_id', '=', jobId)
      .execute();
  }

  find(jobId: string): Promise<BuildRow | undefined> {
    if (!isUuid(jobId)) return Promise.resolve(undefined);
    return this.db.selectFrom('builds').selectAll().where('job_id', '=', jobId).executeTakeFirst();
  }

  /** The build's log as kept when the build finished (undefined while it runs). */
  async storedLog(jobId: string): Promise<{ log: string; truncated: boolean; bytes: number } | undefined> {
    const row = await this.db.selectFrom('builds').select(['log', 'log_truncated', 'log_bytes']).where('job_id', '=', jobId).executeTakeFirst();
    if (!row || row.log === null) return undefined;
    return { log: row.log, truncated: row.log_truncated ?? false, bytes: Number(row.log_bytes ?? 0) };
  }

  async attestations(jobId: string): Promise<BuildAttestationSummary[]> {
    const rows = await this.db.selectFrom('attestations').selectAll().where('job_id', '=', jobId).orderBy('created_at').execute();
    return rows.map((row) => ({
      id: row.id,
      predicateType: row.predicate_type,
      manifestDigest: row.manifest_digest,
      statementDigest: row.statement_digest,
      logIndex: Number(row.rekor_log_index),
      entryUuid: row.rekor_entry_uuid,
      integratedTime: row.rekor_integrated_time,
      identity: row.identity,
      issuer: row.issuer,
    }));
  }
}
