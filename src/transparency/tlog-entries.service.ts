import { Logger } from '@nestjs/common';
import type { SignatureRow } from '../database/database.types';
import { CodedError } from '../common/coded-error';
import type { SignatureRecordQueries } from '../database/signature-record-queries';
import type { TrustRootLoader } from '../sigstore/trust-root-loader';
import { LruCache } from '../common/lru-cache';
import type { RekorClient, RekorEntry } from '../sigstore/rekor-client';
import { type TlogEntry, TlogEntryFormatError, tlogEntryFromBundle, tlogEntryFromRekor } from '../sigstore/tlog-entry';
import { verifyTlogEntry } from '../sigstore/tlog-entry-verification';
import { type TlogEntrySource, type TlogEntryView, tlogEntryView } from './tlog-entry-view';
import { tlogProblems } from './tlog-problems';
import type { TransparencyLogKey } from '../sigstore/transparency-log-key';

type Lookup = { logIndex: number } | { uuid: string };

/** How long one Rekor lookup may take before the answer comes from the records instead. */
const REKOR_LOOKUP_TIMEOUT_MS = 5_000;

/**
 * Rekor v1 entries by log index or UUID, as `rekor-cli get` shows them, verified against the trust
 * root. Entries are immutable, so answers are kept in a bounded LRU cache. When Rekor cannot be
 * reached, entries this service wrote are answered from its signature records (the stored bundle).
 */
export class TlogEntries {
  private readonly logger = new Logger('tlog');
  private readonly cache: LruCache<string, TlogEntry>;

  constructor(
    private readonly rekor: RekorClient,
    private readonly rekorUrl: string,
    private readonly trustRoot: TrustRootLoader,
    private readonly records: SignatureRecordQueries,
    cacheSize = 1_000,
  ) {
    this.cache = new LruCache(cacheSize);
  }

  byLogIndex(logIndex: number): Promise<TlogEntryView> {
    return this.lookup({ logIndex });
  }

  /** `uuid`: 80 hex (tree ID + leaf hash) or the 64-hex leaf hash. */
  byUuid(uuid: string): Promise<TlogEntryView> {
    return this.lookup({ uuid: uuid.toLowerCase() });
  }

  private async lookup(lookup: Lookup): Promise<TlogEntryView> {
    const found = await this.find(lookup);
    const keys = await this.logKeys();
    return tlogEntryView(found.entry, found.source, verifyTlogEntry(found.entry, keys));
  }

  private async find(lookup: Lookup): Promise<{ entry: TlogEntry; source: TlogEntrySource }> {
    const cached = this.cache.get(cacheKey(lookup));
    if (cached) return { entry: cached, source: 'rekor' };
    let answer: RekorEntry | undefined;
    try {
      const signal = AbortSignal.timeout(REKOR_LOOKUP_TIMEOUT_MS);
      answer = 'logIndex' in lookup ? await this.rekor.getByIndex(lookup.logIndex, signal) : await this.rekor.getByUuid(lookup.uuid, signal);
    } catch (error) {
      // Unreachable, 5xx or 429: Rekor is down for now. Anything else is an answer that cannot be used.
      if (!(error instanceof CodedError && error.transient)) {
        throw tlogProblems.rekorBadResponse(error instanceof CodedError ? error.message : `Rekor at ${this.rekorUrl} gave an answer that cannot be read: ${String(error)}`);
      }
      this.logger.warn({ rekorUrl: this.rekorUrl, code: error.code, reason: error.message }, 'Rekor lookup failed; answering from the signature records');
      return { entry: await this.fromRecords(lookup, error.message), source: 'records' };
    }
    if (!answer) throw tlogProblems.notFound(describe(lookup));
    const entry = this.checkedAnswer(lookup, answer);
    this.cache.set(cacheKey({ logIndex: entry.logIndex }), entry);
    this.cache.set(cacheKey({ uuid: entry.uuid }), entry);
    this.cache.set(cacheKey({ uuid: entry.uuid.slice(-64) }), entry);
    return { entry, source: 'rekor' };
  }

  /** The answer, parsed, when it is the entry that was asked for. */
  private checkedAnswer(lookup: Lookup, answer: RekorEntry): TlogEntry {
    let entry: TlogEntry;
    try {
      entry = tlogEntryFromRekor(answer);
    } catch (error) {
      if (error instanceof TlogEntryFormatError) throw tlogProblems.rekorBadResponse(`Rekor's entry is malformed: ${error.message}`);
      throw error;
    }
    const matches =
      'logIndex' in lookup ? entry.logIndex === lookup.logIndex : entry.uuid.endsWith(lookup.uuid.slice(-64)) && (lookup.uuid.length === 64 || entry.uuid === lookup.uuid);
    if (!matches) throw tlogProblems.rekorBadResponse(`asked for the entry with ${describe(lookup)}, Rekor answered index ${entry.logIndex}, UUID ${entry.uuid}`);
    return entry;
  }

  private async fromRecords(lookup: Lookup, reason: string): Promise<TlogEntry> {
    const rows = 'logIndex' in lookup ? await this.records.findByLogIndex(lookup.logIndex) : await this.records.findByEntryUuid(lookup.uuid);
    const row = await this.preferConfiguredLog(rows);
    if (!row) throw tlogProblems.rekorUnavailable(`${reason}; no signature record of this service holds the entry with ${describe(lookup)}`);
    return tlogEntryFromBundle(row.bundle, row.rekor_entry_uuid);
  }

  /** Of records at the same index in different logs, the one in the configured Rekor's log (by the trust root). */
  private async preferConfiguredLog(rows: SignatureRow[]): Promise<SignatureRow | undefined> {
    if (new Set(rows.map((r) => r.rekor_log_id)).size <= 1) return rows[0];
    const keys = await this.logKeys();
    const configured = new Set((keys instanceof Error ? [] : keys).filter((k) => sameService(k.baseURL, this.rekorUrl)).map((k) => k.logID.toString('hex')));
    return rows.find((r) => configured.has(r.rekor_log_id)) ?? rows[0];
  }

  private async logKeys(): Promise<readonly TransparencyLogKey[] | Error> {
    try {
      return (await this.trustRoot.trustMaterial()).tlogs;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }
}

function cacheKey(lookup: Lookup): string {
  return 'logIndex' in lookup ? `index:${lookup.logIndex}` : `uuid:${lookup.uuid}`;
}

function describe(lookup: Lookup): string {
  return 'logIndex' in lookup ? `log index ${lookup.logIndex}` : `UUID ${lookup.uuid}`;
}

function sameService(a: string, b: string): boolean {
  const normalize = (url: string) => {
    try {
      const parsed = new URL(url);
      return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
    } catch {
      return url;
    }
  };
  return normalize(a) === normalize(b);
}
