import { randomBytes } from 'node:crypto';
import { mkdir, open, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createFileExclusive, readFileIfExists } from '../../src/common/atomic-file';
import { hashLeaf, MerkleTree } from './merkle-tree';

/** One entry of the log as persisted. */
export interface StoredEntry {
  readonly logIndex: number;
  /** Seconds since the epoch. */
  readonly integratedTime: number;
  /** Canonical body bytes. */
  readonly body: Buffer;
  /** RFC 6962 leaf hash of the body. */
  readonly leafHash: Buffer;
  /** Signed entry timestamp, computed once when the entry was integrated. */
  readonly signedEntryTimestamp: Buffer;
}

export interface NewEntry {
  readonly body: Buffer;
  readonly integratedTime: number;
  /** Computes the SET for the index the entry receives. */
  readonly sign: (logIndex: number) => Buffer;
}

interface EntryLine {
  readonly logIndex: number;
  readonly integratedTime: number;
  readonly body: string;
  readonly signedEntryTimestamp: string;
}

interface LogMetadata {
  /** Trillian-style tree ID (positive int64), decimal. */
  readonly treeId: string;
  readonly createdAt: string;
}

/**
 * The persistent state of the local Rekor: an append-only JSON-lines file of entries
 * (`entries.jsonl`, one fsync'd line per entry) and the tree ID (`log.json`). On open the file is
 * replayed, so log indices continue across restarts. A torn last line (crash in mid-write) is cut off;
 * any other damage stops the log from opening rather than silently renumbering entries.
 */
export class RekorLogStore {
  private readonly entries: StoredEntry[] = [];
  private readonly byLeafHash = new Map<string, number>();
  private readonly tree = new MerkleTree();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly treeId: bigint,
    private readonly file: FileHandle,
  ) {}

  static async open(dir: string): Promise<RekorLogStore> {
    await mkdir(dir, { recursive: true });
    const treeId = await loadOrCreateTreeId(join(dir, 'log.json'));
    const entriesFile = join(dir, 'entries.jsonl');
    const replayed = await replay(entriesFile);
    const handle = await open(entriesFile, 'a', 0o644);
    const store = new RekorLogStore(treeId, handle);
    for (const entry of replayed) store.index(entry);
    return store;
  }

  /** Tree ID as the 16 hex digits that prefix entry UUIDs. */
  get treeIdHex(): string {
    return this.treeId.toString(16).padStart(16, '0');
  }

  get size(): number {
    return this.entries.length;
  }

  get merkleTree(): MerkleTree {
    return this.tree;
  }

  byIndex(logIndex: number): StoredEntry | undefined {
    return Number.isInteger(logIndex) ? this.entries[logIndex] : undefined;
  }

  byLeaf(leafHashHex: string): StoredEntry | undefined {
    const index = this.byLeafHash.get(leafHashHex);
    return index === undefined ? undefined : this.entries[index];
  }

  /**
   * Appends an entry unless one with the same body (same leaf hash) exists. Appends are serialised,
   * so concurrent identical submissions yield one entry.
   */
  async appendUnique(entry: NewEntry): Promise<{ entry: StoredEntry; created: boolean }> {
    const run = this.queue.then(async () => {
      const leafHash = hashLeaf(entry.body);
      const existing = this.byLeaf(leafHash.toString('hex'));
      if (existing) return { entry: existing, created: false };
      const logIndex = this.entries.length;
      const stored: StoredEntry = {
        logIndex,
        integratedTime: entry.integratedTime,
        body: entry.body,
        leafHash,
        signedEntryTimestamp: entry.sign(logIndex),
      };
      const line: EntryLine = {
        logIndex,
        integratedTime: stored.integratedTime,
        body: stored.body.toString('base64'),
        signedEntryTimestamp: stored.signedEntryTimestamp.toString('base64'),
      };
      await this.file.appendFile(`${JSON.stringify(line)}\n`);
      await this.file.datasync();
      this.index(stored);
      return { entry: stored, created: true };
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.file.close();
  }

  private index(entry: StoredEntry): void {
    this.entries.push(entry);
    this.byLeafHash.set(entry.leafHash.toString('hex'), entry.logIndex);
    this.tree.append(entry.leafHash);
  }
}

async function loadOrCreateTreeId(file: string): Promise<bigint> {
  const existing = await readFileIfExists(file);
  if (existing) return parseTreeId(file, existing);
  // A positive int64, like a Trillian tree ID.
  const id = randomBytes(8).readBigUInt64BE() & 0x7fff_ffff_ffff_ffffn;
  const metadata: LogMetadata = { treeId: id.toString(), createdAt: new Date().toISOString() };
  if (await createFileExclusive(file, `${JSON.stringify(metadata, null, 2)}\n`)) return id;
  const winner = await readFileIfExists(file);
  if (!winner) throw new Error(`${file} vanished while it was being created`);
  return parseTreeId(file, winner);
}

function parseTreeId(file: string, raw: Buffer): bigint {
  try {
    const { treeId } = JSON.parse(raw.toString('utf8')) as LogMetadata;
    const id = BigInt(treeId);
    if (id <= 0n || id > 0x7fff_ffff_ffff_ffffn) throw new Error('out of range');
    return id;
  } catch (error) {
    throw new Error(`${file} does not hold a valid tree ID`, { cause: error });
  }
}

async function replay(file: string): Promise<StoredEntry[]> {
  const raw = await readFileIfExists(file);
  if (!raw || raw.length === 0) return [];
  const text = raw.toString('utf8');
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  if (complete.length !== text.length) {
    // The process died while appending the last line: that entry was never acknowledged.
    await truncate(file, Buffer.byteLength(complete));
  }
  const entries: StoredEntry[] = [];
  const lines = complete.split('\n').filter((line) => line.length > 0);
  for (const [i, line] of lines.entries()) {
    let parsed: EntryLine;
    try {
      parsed = JSON.parse(line) as EntryLine;
    } catch (error) {
      throw new Error(`${file}: line ${i + 1} is not valid JSON; the log is damaged`, { cause: error });
    }
    if (parsed.logIndex !== i || !Number.isInteger(parsed.integratedTime) || typeof parsed.body !== 'string' || typeof parsed.signedEntryTimestamp !== 'string') {
      throw new Error(`${file}: line ${i + 1} is not entry ${i}; the log is damaged`);
    }
    const body = Buffer.from(parsed.body, 'base64');
    entries.push({
      logIndex: i,
      integratedTime: parsed.integratedTime,
      body,
      leafHash: hashLeaf(body),
      signedEntryTimestamp: Buffer.from(parsed.signedEntryTimestamp, 'base64'),
    });
  }
  return entries;
}
