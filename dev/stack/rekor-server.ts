import { sign as signData } from 'node:crypto';
import { join } from 'node:path';
import { json, pem } from '@sigstore/core';
import { HttpService, HttpStatusError, jsonResponse, readJsonBody, type HttpRequest, type HttpResponse } from './http-service';
import { keyId, loadOrCreateKeyPair, type Bytes, type StoredKeyPair } from './key-material';
import { canonicalizeProposedEntry, ProposedEntryError } from './rekor-entry-canonicalizer';
import { RekorLogStore, type StoredEntry } from './rekor-log-store';

export const ENTRIES_PATH = '/api/v1/log/entries';
export const LOG_INFO_PATH = '/api/v1/log';
export const PUBLIC_KEY_PATH = '/api/v1/log/publicKey';
const ENTRY_BY_UUID = /^\/api\/v1\/log\/entries\/([^/]+)$/;

/** Rekor v1's LogEntry value (the map value keyed by entry UUID). */
export interface RekorLogEntry {
  readonly body: string;
  readonly integratedTime: number;
  readonly logID: string;
  readonly logIndex: number;
  readonly verification: {
    readonly inclusionProof: {
      readonly checkpoint: string;
      readonly hashes: string[];
      readonly logIndex: number;
      readonly rootHash: string;
      readonly treeSize: number;
    };
    readonly signedEntryTimestamp: string;
  };
}

export interface RekorServerOptions {
  /** `<stateDir>/rekor`: signing key, tree ID and entries. */
  readonly dir: string;
  /** Base URL clients use; its host:port names the log in checkpoints (and must be in the trusted root's baseUrl). */
  readonly baseUrl: string;
  readonly now?: () => Date;
}

/**
 * The local Rekor (v1 API): sequential log indices, entries persisted across restarts, RFC 6962
 * inclusion proofs against a signed checkpoint, SETs, 409 on resubmission, lookups by index and UUID.
 *
 * @sigstore/mock's Rekor cannot serve as the base here: it draws a random log index and a random UUID
 * for each entry, keeps nothing, and proves every entry as the only leaf of a one-entry tree. The SET
 * and checkpoint below use the same formats as real Rekor (and the mock); bodies are canonicalised by
 * rekor-entry-canonicalizer.ts, which also mends the mock's DSSE fault.
 */
export class RekorServer {
  private readonly logId: Buffer;
  private readonly origin: string;
  private readonly now: () => Date;
  private checkpointCache: { size: number; checkpoint: string } | undefined;

  private constructor(
    private readonly options: RekorServerOptions,
    private readonly key: StoredKeyPair,
    readonly store: RekorLogStore,
  ) {
    this.logId = keyId(key.publicKeyDer);
    this.origin = new URL(options.baseUrl).host;
    this.now = options.now ?? (() => new Date());
  }

  static async open(options: RekorServerOptions): Promise<RekorServer> {
    const key = await loadOrCreateKeyPair(join(options.dir, 'signing-key.json'));
    const store = await RekorLogStore.open(options.dir);
    return new RekorServer(options, key, store);
  }

  get publicKeyDer(): Bytes {
    return this.key.publicKeyDer;
  }

  get keyCreatedAt(): Date {
    return this.key.createdAt;
  }

  get logIdHex(): string {
    return this.logId.toString('hex');
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  createHttpService(isReady?: () => boolean, onError?: (error: unknown) => void): HttpService {
    return new HttpService({
      name: 'rekor',
      isReady,
      onError,
      maxBodyBytes: 4 * 1024 * 1024,
      errorBody: (status, message) => ({ code: status, message }),
      routes: [
        { method: 'POST', path: ENTRIES_PATH, handler: (request) => this.handleCreate(request) },
        { method: 'GET', path: ENTRIES_PATH, handler: (request) => this.handleGetByIndex(request) },
        { method: 'GET', path: ENTRY_BY_UUID, handler: (request) => this.handleGetByUuid(request) },
        { method: 'GET', path: LOG_INFO_PATH, handler: () => this.handleLogInfo() },
        {
          method: 'GET',
          path: PUBLIC_KEY_PATH,
          handler: () => ({ status: 200, body: pem.fromDER(this.key.publicKeyDer, 'PUBLIC KEY'), contentType: 'application/x-pem-file' }),
        },
      ],
    });
  }

  /** Integrates a proposed entry; `created` is false when the same entry was already in the log. */
  async createEntry(proposed: unknown): Promise<{ uuid: string; entry: RekorLogEntry; created: boolean }> {
    let body: Buffer;
    try {
      ({ body } = canonicalizeProposedEntry(proposed));
    } catch (error) {
      if (error instanceof ProposedEntryError) throw new HttpStatusError(400, error.message);
      throw error;
    }
    const integratedTime = Math.floor(this.now().getTime() / 1000);
    const { entry, created } = await this.store.appendUnique({
      body,
      integratedTime,
      sign: (logIndex) => this.signedEntryTimestamp(body, integratedTime, logIndex),
    });
    return { uuid: this.uuidOf(entry), entry: this.toLogEntry(entry), created };
  }

  /** Finds an entry by 64-hex leaf hash or 80-hex tree ID + leaf hash; throws 400 for a malformed UUID. */
  findByUuid(uuid: string): StoredEntry | undefined {
    const normalized = uuid.toLowerCase();
    if (/^[0-9a-f]{80}$/.test(normalized)) {
      if (normalized.slice(0, 16) !== this.store.treeIdHex) return undefined;
      return this.store.byLeaf(normalized.slice(16));
    }
    if (/^[0-9a-f]{64}$/.test(normalized)) return this.store.byLeaf(normalized);
    throw new HttpStatusError(400, `invalid entry UUID "${uuid}": expected 64 or 80 hexadecimal characters`);
  }

  /** The entry in Rekor's response shape with an inclusion proof against the current tree. */
  toLogEntry(entry: StoredEntry): RekorLogEntry {
    const treeSize = this.store.size;
    const tree = this.store.merkleTree;
    return {
      body: entry.body.toString('base64'),
      integratedTime: entry.integratedTime,
      logID: this.logIdHex,
      logIndex: entry.logIndex,
      verification: {
        inclusionProof: {
          checkpoint: this.checkpoint(treeSize),
          hashes: tree.inclusionProof(entry.logIndex, treeSize).map((h) => h.toString('hex')),
          logIndex: entry.logIndex,
          rootHash: tree.rootHash(treeSize).toString('hex'),
          treeSize,
        },
        signedEntryTimestamp: entry.signedEntryTimestamp.toString('base64'),
      },
    };
  }

  uuidOf(entry: StoredEntry): string {
    return `${this.store.treeIdHex}${entry.leafHash.toString('hex')}`;
  }

  private async handleCreate(request: HttpRequest): Promise<HttpResponse> {
    const { uuid, entry, created } = await this.createEntry(await readJsonBody(request));
    const location = `${ENTRIES_PATH}/${uuid}`;
    const headers = { Location: location, ETag: uuid };
    if (!created) {
      return jsonResponse(409, { code: 409, message: `an equivalent entry already exists in the transparency log with UUID ${uuid}` }, headers);
    }
    return jsonResponse(201, { [uuid]: entry }, headers);
  }

  private handleGetByIndex(request: HttpRequest): HttpResponse {
    const raw = request.url.searchParams.get('logIndex');
    if (raw === null) throw new HttpStatusError(400, 'query parameter logIndex is required');
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
      throw new HttpStatusError(400, `logIndex must be a non-negative integer, got "${raw}"`);
    }
    const entry = this.store.byIndex(Number(raw));
    if (!entry) throw new HttpStatusError(404, `no entry at log index ${raw} (tree size ${this.store.size})`);
    return jsonResponse(200, { [this.uuidOf(entry)]: this.toLogEntry(entry) });
  }

  private handleGetByUuid(request: HttpRequest): HttpResponse {
    const uuid = decodeURIComponent(request.params[0] ?? '');
    const entry = this.findByUuid(uuid);
    if (!entry) throw new HttpStatusError(404, `no entry with UUID ${uuid}`);
    return jsonResponse(200, { [this.uuidOf(entry)]: this.toLogEntry(entry) });
  }

  private handleLogInfo(): HttpResponse {
    const treeSize = this.store.size;
    return jsonResponse(200, {
      rootHash: this.store.merkleTree.rootHash(treeSize).toString('hex'),
      treeSize,
      signedTreeHead: this.checkpoint(treeSize),
      treeID: this.store.treeId.toString(),
      inactiveShards: [],
    });
  }

  /** SET: the log's signature over the canonical JSON of {body, integratedTime, logID, logIndex}. */
  private signedEntryTimestamp(body: Buffer, integratedTime: number, logIndex: number): Buffer {
    const payload = json.canonicalize({ body: body.toString('base64'), integratedTime, logID: this.logIdHex, logIndex });
    return signData('sha256', Buffer.from(payload, 'utf8'), this.key.privateKey);
  }

  /**
   * A signed checkpoint (signed note) for the tree at `treeSize`, as Rekor v1 writes it:
   * "<origin> - <tree ID>", size, base64 root hash, a timestamp line, then "— <origin> <key hint ‖ signature>".
   */
  private checkpoint(treeSize: number): string {
    if (this.checkpointCache?.size === treeSize) return this.checkpointCache.checkpoint;
    const note = [
      `${this.origin} - ${this.store.treeId.toString()}`,
      `${treeSize}`,
      this.store.merkleTree.rootHash(treeSize).toString('base64'),
      `Timestamp: ${BigInt(this.now().getTime()) * 1_000_000n}`,
      '',
    ].join('\n');
    const signature = signData('sha256', Buffer.from(note, 'utf8'), this.key.privateKey);
    const hintAndSignature = Buffer.concat([this.logId.subarray(0, 4), signature]);
    const checkpoint = `${note}\n\u2014 ${this.origin} ${hintAndSignature.toString('base64')}\n`;
    this.checkpointCache = { size: treeSize, checkpoint };
    return checkpoint;
  }
}
