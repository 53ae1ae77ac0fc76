import { type QueryExecutorProvider, sql } from 'kysely';
import { isSealedSecret, openStoredSecret, type SecretBox, SecretBoxError } from '../common/secret-box';

/**
 * Columns that keep one secret per row, sealed by common/secret-box.ts, and the work on all their rows at
 * once: sealing values stored in plain text before sealing existed, and re-sealing under the current
 * key what older keys sealed. Rows are read in batches by id and each is written only if it still holds
 * the value read (one conditional update per batch), so several processes may do this at once without harm.
 */

/** A column of sealed secrets in a table whose primary key is the uuid `id`. */
export interface SealedSecretColumn {
  table: string;
  column: string;
  /** The additional data that binds a row's sealed secret to that row and its purpose. */
  context(id: string): string;
}

export interface SealingOutcome {
  /** Rows stored in plain text, now sealed under the current key. */
  sealed: number;
  /** Rows sealed under another key, now sealed under the current one. */
  resealed: number;
  /** Rows that do not open (their key is not configured, or they were altered): left as they are. */
  unreadable: { id: string; code: string }[];
}

/** How a column's rows are stored: in plain text, or sealed under which key. */
export interface SealedSecretCounts {
  plainText: number;
  byKey: Record<string, number>;
}

const BATCH = 200;
/** A sealed value (any version); the migration's check admits only these and legacy `whsec_` secrets. */
const SEALED_PATTERN = '^v[0-9]+\\.';

/**
 * Seals the rows of `column` stored in plain text under the current key; with `reseal`, also re-seals
 * every row sealed under another key. Returns what it did and the rows it could not open.
 */
export async function sealSecretColumn(db: QueryExecutorProvider, box: SecretBox, column: SealedSecretColumn, options: { reseal: boolean }): Promise<SealingOutcome> {
  const outcome: SealingOutcome = { sealed: 0, resealed: 0, unreadable: [] };
  const value = sql.ref(column.column);
  const pending = options.reseal ? sql`not starts_with(${value}, ${`v1.${box.currentKeyId}.`})` : sql`${value} !~ ${SEALED_PATTERN}`;
  let after: string | undefined;
  for (;;) {
    const { rows } = await sql<{ id: string; value: string }>`
      select id::text as id, ${value} as value from ${sql.table(column.table)}
      where ${pending} ${after === undefined ? sql`` : sql`and id > ${after}`}
      order by id limit ${BATCH}`.execute(db);
    const writes: { id: string; from: string; to: string }[] = [];
    for (const row of rows) {
      const context = column.context(row.id);
      try {
        writes.push({ id: row.id, from: row.value, to: box.seal(openStoredSecret(box, row.value, context), context) });
      } catch (error) {
        if (!(error instanceof SecretBoxError)) throw error;
        outcome.unreadable.push({ id: row.id, code: error.code });
      }
    }
    if (writes.length > 0) {
      // A row another writer changed since it was read (a rotation, or another process doing the same)
      // is not written: its value stands.
      const { rows: written } = await sql<{ id: string }>`
        update ${sql.table(column.table)} as t set ${value} = w.to_value
        from (values ${sql.join(writes.map((w) => sql`(${w.id}::uuid, ${w.from}, ${w.to})`))}) as w(id, from_value, to_value)
        where t.id = w.id and t.${value} = w.from_value
        returning t.id::text as id`.execute(db);
      const done = new Set(written.map((row) => row.id));
      for (const write of writes) {
        if (!done.has(write.id)) continue;
        if (isSealedSecret(write.from)) outcome.resealed++;
        else outcome.sealed++;
      }
    }
    if (rows.length < BATCH) return outcome;
    after = rows.at(-1)!.id;
  }
}

/** How many rows of `column` are in plain text, and how many are sealed under each key id. */
export async function sealedSecretCounts(db: QueryExecutorProvider, column: SealedSecretColumn): Promise<SealedSecretCounts> {
  const value = sql.ref(column.column);
  const { rows } = await sql<{ key_id: string | null; n: number }>`
    select case when ${value} ~ ${SEALED_PATTERN} then split_part(${value}, '.', 2) end as key_id, count(*)::int as n
    from ${sql.table(column.table)} group by 1 order by 1`.execute(db);
  const counts: SealedSecretCounts = { plainText: 0, byKey: {} };
  for (const row of rows) {
    if (row.key_id === null) counts.plainText = row.n;
    else counts.byKey[row.key_id] = row.n;
  }
  return counts;
}
