import type { RekorEntry } from './rekor-client';

/** A Rekor v1 log entry with its evidence, whether Rekor answered it or it was read from a stored bundle. */
export interface TlogEntry {
  /** As Rekor names it: 16 hex of the tree ID then the 64-hex leaf hash (or only the leaf hash). */
  uuid: string;
  /** The canonicalized entry body (JSON bytes). */
  body: Buffer;
  /** Seconds since the epoch. */
  integratedTime: number;
  /** Hex SHA-256 of the log's public key. */
  logId: string;
  logIndex: number;
  signedEntryTimestamp: Buffer | null;
  inclusionProof: TlogInclusionProof | null;
}

export interface TlogInclusionProof {
  /** Index of the leaf in the tree the proof is for (for a sharded log, within its shard). */
  logIndex: bigint;
  treeSize: bigint;
  rootHash: Buffer;
  hashes: Buffer[];
  /** The signed checkpoint (signed note) committing to the root hash, when given. */
  checkpoint: string | null;
}

/** Rekor's answer, or a stored bundle, is not shaped like a log entry. */
export class TlogEntryFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlogEntryFormatError';
  }
}

const HEX = /^[0-9a-f]*$/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Reads an entry as `GET /api/v1/log/entries…` answers it (hex log ID, root hash and path). */
export function tlogEntryFromRekor(entry: RekorEntry): TlogEntry {
  const proof = entry.verification?.inclusionProof as Record<string, unknown> | undefined;
  const set = entry.verification?.signedEntryTimestamp;
  return {
    uuid: hexString(entry.uuid, 'UUID').toLowerCase(),
    body: base64Bytes(entry.body, 'body'),
    integratedTime: integer(entry.integratedTime, 'integratedTime'),
    logId: hexString(entry.logID, 'logID').toLowerCase(),
    logIndex: integer(entry.logIndex, 'logIndex'),
    signedEntryTimestamp: set === undefined ? null : base64Bytes(set, 'signedEntryTimestamp'),
    inclusionProof: proof
      ? {
          logIndex: BigInt(integer(proof.logIndex, 'inclusionProof.logIndex')),
          treeSize: BigInt(integer(proof.treeSize, 'inclusionProof.treeSize')),
          rootHash: Buffer.from(hexString(proof.rootHash, 'inclusionProof.rootHash'), 'hex'),
          hashes: array(proof.hashes, 'inclusionProof.hashes').map((h, i) => Buffer.from(hexString(h, `inclusionProof.hashes[${i}]`), 'hex')),
          checkpoint: optionalString(proof.checkpoint, 'inclusionProof.checkpoint'),
        }
      : null,
  };
}

/**
 * Reads the first transparency log entry of a Sigstore bundle in its JSON form (base64 bytes, decimal
 * strings for 64-bit integers). `uuid` is the entry UUID recorded beside the bundle.
 */
export function tlogEntryFromBundle(bundle: unknown, uuid: string): TlogEntry {
  const material = (bundle as { verificationMaterial?: { tlogEntries?: unknown } } | null)?.verificationMaterial;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each field is checked below
  const entry = array(material?.tlogEntries, 'verificationMaterial.tlogEntries')[0] as Record<string, any> | undefined;
  if (!entry || typeof entry !== 'object') throw new TlogEntryFormatError('the bundle has no transparency log entry');
  const proof = entry.inclusionProof as Record<string, unknown> | undefined;
  const set = entry.inclusionPromise?.signedEntryTimestamp;
  return {
    uuid: hexString(uuid, 'UUID').toLowerCase(),
    body: base64Bytes(entry.canonicalizedBody, 'canonicalizedBody'),
    integratedTime: integer(entry.integratedTime, 'integratedTime'),
    logId: base64Bytes(entry.logId?.keyId, 'logId.keyId').toString('hex'),
    // Proto3 JSON leaves out fields at their default: a first entry, index 0, has no logIndex at all.
    logIndex: integer(entry.logIndex ?? '0', 'logIndex'),
    signedEntryTimestamp: set === undefined ? null : base64Bytes(set, 'inclusionPromise.signedEntryTimestamp'),
    inclusionProof: proof
      ? {
          logIndex: BigInt(integer(proof.logIndex ?? '0', 'inclusionProof.logIndex')),
          treeSize: BigInt(integer(proof.treeSize, 'inclusionProof.treeSize')),
          rootHash: base64Bytes(proof.rootHash, 'inclusionProof.rootHash'),
          hashes: array(proof.hashes ?? [], 'inclusionProof.hashes').map((h, i) => base64Bytes(h, `inclusionProof.hashes[${i}]`)),
          checkpoint: optionalString((proof.checkpoint as { envelope?: unknown } | undefined)?.envelope, 'inclusionProof.checkpoint.envelope'),
        }
      : null,
  };
}

function integer(value: unknown, field: string): number {
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) throw new TlogEntryFormatError(`${field} is not a non-negative integer`);
  return number;
}

function hexString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length % 2 !== 0 || !HEX.test(value)) throw new TlogEntryFormatError(`${field} is not hexadecimal`);
  return value;
}

function base64Bytes(value: unknown, field: string): Buffer {
  if (typeof value !== 'string' || !BASE64.test(value)) throw new TlogEntryFormatError(`${field} is not base64`);
  return Buffer.from(value, 'base64');
}

function array(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new TlogEntryFormatError(`${field} is not a list`);
  return value;
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new TlogEntryFormatError(`${field} is not a string`);
  return value;
}
