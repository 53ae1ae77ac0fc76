import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export interface ApiKeysTable {
  id: Generated<string>;
  name: string;
  key_hash: string;
  key_hint: string;
  scopes: Json<string[]>;
  repositories: Json<string[]>;
  created_by: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  expires_at: Timestamp;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
  revoked_by: string | null;
}

export type ApiKeyTables = { api_keys: ApiKeysTable };
export type ApiKeyRow = Selectable<ApiKeysTable>;
