import type { ColumnType, Generated, Selectable } from 'kysely';
import type { AttemptedCredential, AuditCaller, AuditOutcome } from './audit-entry';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export interface AuditEventsTable {
  id: Generated<string>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  completed_at: Timestamp | null;
  request_id: string;
  method: string;
  route: string | null;
  path: string;
  action: string;
  caller_principal: string | null;
  caller: Json<AuditCaller> | null;
  credential: Json<AttemptedCredential> | null;
  target_repository: string | null;
  target_reference: string | null;
  target_id: string | null;
  outcome: AuditOutcome;
  status: number | null;
  problem_code: string | null;
  source_address: string;
}

export type AuditLogTables = { audit_events: AuditEventsTable };
export type AuditEventRow = Selectable<AuditEventsTable>;
