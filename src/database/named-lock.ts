import { Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { DatabaseService } from './database.service';

/**
 * Mutual exclusion by name across every process of a deployment: a PostgreSQL advisory lock held on
 * one pooled connection for the duration of `work`. On the embedded database (a single process) an
 * in-process queue per name does the same.
 *
 * Used where a registry offers no conditional write: distribution 2.8 ignores If-Match, so two jobs
 * appending to the same `.sig` image or referrers fallback index would lose one of the two writes.
 */
@Injectable()
export class NamedLocks {
  private readonly local = new Map<string, Promise<unknown>>();

  constructor(private readonly database: DatabaseService) {}

  async withLock<T>(name: string, work: () => Promise<T>): Promise<T> {
    if (this.database.kind === 'pglite') return this.withLocalLock(name, work);
    return this.database.db.connection().execute(async (connection) => {
      await sql`select pg_advisory_lock(hashtextextended(${name}, 0))`.execute(connection);
      try {
        return await work();
      } finally {
        await sql`select pg_advisory_unlock(hashtextextended(${name}, 0))`.execute(connection);
      }
    });
  }

  /**
   * Runs `work` under the lock when no one else holds it, else does nothing (undefined): for periodic
   * chores that one replica at a time is enough to do.
   */
  async tryWithLock<T>(name: string, work: () => Promise<T>): Promise<T | undefined> {
    if (this.database.kind === 'pglite') {
      if (this.local.has(name)) return undefined;
      return this.withLocalLock(name, work);
    }
    return this.database.db.connection().execute(async (connection) => {
      const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(hashtextextended(${name}, 0)) as locked`.execute(connection);
      if (!rows[0]?.locked) return undefined;
      try {
        return await work();
      } finally {
        await sql`select pg_advisory_unlock(hashtextextended(${name}, 0))`.execute(connection);
      }
    });
  }

  private async withLocalLock<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.local.get(name) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(work);
    this.local.set(name, current);
    try {
      return await current;
    } finally {
      if (this.local.get(name) === current) this.local.delete(name);
    }
  }
}
