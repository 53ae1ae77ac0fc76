import { createHash } from 'node:crypto';

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ leaf). */
export function hashLeaf(leaf: Buffer): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(leaf).digest();
}

/** RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function hashChildren(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

const EMPTY_TREE_HASH = createHash('sha256').digest();

/**
 * An append-only RFC 6962 Merkle tree over leaf hashes. Hashes of complete (power-of-two, aligned)
 * subtrees never change once all their leaves exist, so they are memoised; a root or proof then costs
 * O(log² n) hashing instead of O(n).
 */
export class MerkleTree {
  private readonly leaves: Buffer[] = [];
  private readonly completeSubtrees = new Map<string, Buffer>();

  get size(): number {
    return this.leaves.length;
  }

  append(leafHash: Buffer): number {
    this.leaves.push(leafHash);
    return this.leaves.length - 1;
  }

  /** MTH(D[0:size]). */
  rootHash(size: number = this.size): Buffer {
    this.checkSize(size);
    return size === 0 ? EMPTY_TREE_HASH : this.subtreeHash(0, size);
  }

  /** PATH(index, D[0:size]): sibling hashes from the leaf upwards (RFC 6962 §2.1.1). */
  inclusionProof(index: number, size: number = this.size): Buffer[] {
    this.checkSize(size);
    if (!Number.isInteger(index) || index < 0 || index >= size) {
      throw new RangeError(`leaf index ${index} is outside a tree of size ${size}`);
    }
    return this.path(index, 0, size);
  }

  private path(index: number, start: number, size: number): Buffer[] {
    if (size === 1) return [];
    const split = largestPowerOfTwoBelow(size);
    if (index < split) {
      return [...this.path(index, start, split), this.subtreeHash(start + split, size - split)];
    }
    return [...this.path(index - split, start + split, size - split), this.subtreeHash(start, split)];
  }

  private subtreeHash(start: number, size: number): Buffer {
    if (size === 1) return this.leaves[start]!;
    const complete = (size & (size - 1)) === 0;
    const key = `${start}/${size}`;
    if (complete) {
      const cached = this.completeSubtrees.get(key);
      if (cached) return cached;
    }
    const split = largestPowerOfTwoBelow(size);
    const hash = hashChildren(this.subtreeHash(start, split), this.subtreeHash(start + split, size - split));
    if (complete) this.completeSubtrees.set(key, hash);
    return hash;
  }

  private checkSize(size: number): void {
    if (!Number.isInteger(size) || size < 0 || size > this.size) {
      throw new RangeError(`tree size ${size} is outside 0..${this.size}`);
    }
  }
}

/** The largest power of two strictly smaller than n (n ≥ 2). */
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
