import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { CodedError } from '../common/coded-error';
import { DatabaseService } from '../database/database.service';
import type { BuildTables } from './build-tables';

/** Chunk size in the database: a source never has to sit in memory whole, on either side. */
const CHUNK_BYTES = 1024 * 1024;

/**
 * Uploaded source archives, kept by digest in the system of record, so that any build worker can read
 * what the API accepted (builds may run on other nodes). Content-addressed: storing the same archive
 * twice writes nothing new.
 */
@Injectable()
export class BuildSourcesRepository {
  constructor(private readonly database: DatabaseService) {}

  private get db() {
    return this.database.db.withTables<BuildTables>();
  }

  /** Stores the archive at `path` (already hashed and checked) under its digest, in one transaction. */
  async store(path: string, source: { digest: string; size: number; format: 'tar.gz' | 'zip' }): Promise<void> {
    const present = await this.db.selectFrom('build_sources').select('complete').where('digest', '=', source.digest).executeTakeFirst();
    if (present?.complete) return;
    await this.db.transaction().execute(async (trx) => {
      // One writer per digest: a concurrent upload of the same archive waits here, then finds it complete.
      // (The embedded database runs one transaction at a time anyway.)
      if (this.database.kind !== 'pglite') await sql`select pg_advisory_xact_lock(hashtextextended(${`build-source:${source.digest}`}, 0))`.execute(trx);
      const stored = await trx.selectFrom('build_sources').select('complete').where('digest', '=', source.digest).executeTakeFirst();
      if (stored?.complete) return;
      await trx.deleteFrom('build_sources').where('digest', '=', source.digest).execute();
      await trx.insertInto('build_sources').values({ digest: source.digest, size: source.size, format: source.format, complete: false }).execute();
      let seq = 0;
      for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES })) {
        await trx
          .insertInto('build_source_chunks')
          .values({ digest: source.digest, seq: seq++, bytes: chunk as Buffer })
          .execute();
      }
      await trx.updateTable('build_sources').set({ complete: true }).where('digest', '=', source.digest).execute();
    });
  }

  /** Writes the archive to `path`, chunk by chunk, and checks that its bytes still hash to the digest. */
  async writeTo(digest: string, path: string): Promise<{ size: number }> {
    const source = await this.db.selectFrom('build_sources').selectAll().where('digest', '=', digest).executeTakeFirst();
    if (!source?.complete) throw new CodedError('BUILD_SOURCE_MISSING', `the source archive ${digest} is not stored; submit the build again`);
    const file = await open(path, 'wx', 0o600);
    const hash = createHash('sha256');
    let size = 0;
    try {
      for (let seq = 0; ; seq++) {
        const chunk = await this.db.selectFrom('build_source_chunks').select('bytes').where('digest', '=', digest).where('seq', '=', seq).executeTakeFirst();
        if (!chunk) break;
        hash.update(chunk.bytes);
        size += chunk.bytes.length;
        await file.write(chunk.bytes);
      }
    } finally {
      await file.close();
    }
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== digest || size !== Number(source.size)) {
      throw new CodedError('BUILD_SOURCE_CORRUPT', `the stored source archive ${digest} reads back as ${actual} (${size} bytes); submit the build again`);
    }
    return { size };
  }
}
