import type { ColumnType, Selectable } from 'kysely';
import type { ToolchainComponent } from '../pipeline/job-catalogue';

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;
type BigInt = ColumnType<number, number | bigint | string, number | bigint | string>;

/** An uploaded source archive, by digest; its bytes are in build_source_chunks. */
export interface BuildSourcesTable {
  digest: string;
  size: BigInt;
  format: 'tar.gz' | 'zip';
  /** Set once every chunk is written: an incomplete source is never built. */
  complete: boolean;
  created_at: CreatedAt;
}

export interface BuildSourceChunksTable {
  digest: string;
  seq: number;
  bytes: Buffer;
}

/** One build: what was asked (builder, options, source) and, once it ran, how (toolchain, log, component). */
export interface BuildsTable {
  job_id: string;
  builder: string;
  builder_options: Json<Record<string, unknown>>;
  source: Json<Record<string, unknown>>;
  repository: string;
  toolchain: Json<ToolchainComponent[]> | null;
  cargo_lock_digest: string | null;
  log: string | null;
  log_digest: string | null;
  log_bytes: BigInt | null;
  log_truncated: boolean | null;
  wasm_digest: string | null;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  caller: string | null;
  created_at: CreatedAt;
}

export type BuildTables = { build_sources: BuildSourcesTable; build_source_chunks: BuildSourceChunksTable; builds: BuildsTable };
export type BuildRow = Selectable<BuildsTable>;
