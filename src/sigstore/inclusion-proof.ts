import { createHash } from 'node:crypto';

/** RFC 6962 leaf hash of a log entry: SHA-256(0x00 ‖ body). Its hex is the last 64 digits of a Rekor entry UUID. */
export function leafHash(body: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.from([0x00]))
    .update(body)
    .digest();
}

function nodeHash(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.from([0x01]))
    .update(left)
    .update(right)
    .digest();
}

export interface InclusionProofInput {
  /** Index of the leaf in the tree the proof is for (Rekor: `inclusionProof.logIndex`, the shard-local index). */
  leafIndex: bigint;
  treeSize: bigint;
  leafHash: Buffer;
  /** Audit path, from the leaf upwards. */
  hashes: Buffer[];
  rootHash: Buffer;
}

/**
 * Verifies an RFC 6962 audit path (the algorithm of RFC 9162 §2.1.3.2): recomputes the root from the
 * leaf hash and the path and compares it with `rootHash`. Returns a reason when it fails.
 */
export function verifyInclusionProof(proof: InclusionProofInput): { verified: true } | { verified: false; reason: string } {
  const { leafIndex, treeSize, hashes } = proof;
  if (leafIndex < 0n || leafIndex >= treeSize) return { verified: false, reason: `leaf index ${leafIndex} is outside a tree of size ${treeSize}` };
  if (hashes.some((h) => h.length !== 32) || proof.rootHash.length !== 32 || proof.leafHash.length !== 32) {
    return { verified: false, reason: 'proof hashes must be 32-byte SHA-256 values' };
  }
  let fn = leafIndex;
  let sn = treeSize - 1n;
  let root = proof.leafHash;
  for (const sibling of hashes) {
    if (sn === 0n) return { verified: false, reason: `the audit path has ${hashes.length} hashes, more than a tree of size ${treeSize} needs` };
    if ((fn & 1n) === 1n || fn === sn) {
      root = nodeHash(sibling, root);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      root = nodeHash(root, sibling);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) return { verified: false, reason: `the audit path has ${hashes.length} hashes, fewer than a tree of size ${treeSize} needs` };
  if (!root.equals(proof.rootHash)) return { verified: false, reason: 'the audit path does not lead to the root hash' };
  return { verified: true };
}
