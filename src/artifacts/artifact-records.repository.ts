import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service';
import type { ArtifactRow } from '../database/database.types';

export interface NewArtifactRecord {
  jobId: string;
  repository: string;
  tag: string | null;
  manifestDigest: string;
  wasmDigest: string;
  wasmSize: number;
  wasmKind: 'component' | 'module';
  config: object;
  annotations: Record<string, string>;
  caller: string | null;
}

/** Artifact records: what was published where, one per publish job. */
@Injectable()
export class ArtifactRecords {
  constructor(private readonly database: DatabaseService) {}

  /** Records the artifact of a job; a step run again returns the record it made the first time. */
  async recordForJob(record: NewArtifactRecord): Promise<ArtifactRow> {
    return this.database.db.transaction().execute(async (trx) => {
      const existing = await trx.selectFrom('artifacts').selectAll().where('job_id', '=', record.jobId).forUpdate().executeTakeFirst();
      if (existing) return existing;
      return trx
        .insertInto('artifacts')
        .values({
          job_id: record.jobId,
          repository: record.repository,
          tag: record.tag,
          manifest_digest: record.manifestDigest,
          wasm_digest: record.wasmDigest,
          wasm_size: record.wasmSize,
          wasm_kind: record.wasmKind,
          config_json: JSON.stringify(record.config),
          annotations: JSON.stringify(record.annotations),
          caller: record.caller,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    });
  }

  findForJob(jobId: string): Promise<ArtifactRow | undefined> {
    return this.database.db.selectFrom('artifacts').selectAll().where('job_id', '=', jobId).executeTakeFirst();
  }
}
