import { createHash } from 'node:crypto';
import { hashChildren, hashLeaf, MerkleTree } from './merkle-tree';

// The RFC 6962 reference inputs used by the Certificate Transparency and transparency-dev test suites.
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((hex) => Buffer.from(hex, 'hex'));
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

/** Root from a leaf and its audit path (RFC 9162 §2.1.3.2), written independently of the tree. */
function rootFromProof(index: number, size: number, leafHash: Buffer, proof: Buffer[]): Buffer {
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) throw new Error('proof too long');
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = hashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn !== 0) throw new Error('proof too short');
  return r;
}

describe('MerkleTree (RFC 6962)', () => {
  it('hashes leaves as SHA-256(0x00 ‖ data)', () => {
    expect(hashLeaf(Buffer.from('abc')).toString('hex')).toBe(
      createHash('sha256')
        .update(Buffer.from([0x00]))
        .update('abc')
        .digest('hex'),
    );
  });

  it('matches the reference root hashes for every prefix of the reference leaves', () => {
    const tree = new MerkleTree();
    for (const leaf of LEAVES) tree.append(hashLeaf(leaf));
    expect(tree.rootHash(0).toString('hex')).toBe(createHash('sha256').digest('hex'));
    for (let size = 1; size <= LEAVES.length; size++) {
      expect(tree.rootHash(size).toString('hex')).toBe(ROOTS[size - 1]);
    }
  });

  it('produces inclusion proofs that recompute the root for every index of every size', () => {
    const tree = new MerkleTree();
    const leaves = Array.from({ length: 37 }, (_, i) => hashLeaf(Buffer.from(`entry ${i}`)));
    for (const leaf of leaves) tree.append(leaf);
    for (let size = 1; size <= leaves.length; size++) {
      const root = tree.rootHash(size);
      for (let index = 0; index < size; index++) {
        const proof = tree.inclusionProof(index, size);
        expect(rootFromProof(index, size, leaves[index]!, proof).equals(root)).toBe(true);
      }
    }
  });

  it('keeps old roots and proofs valid as the tree grows (memoised subtrees are never stale)', () => {
    const tree = new MerkleTree();
    const leaves = Array.from({ length: 20 }, (_, i) => hashLeaf(Buffer.from([i])));
    const rootsSeen: Buffer[] = [];
    for (const leaf of leaves) {
      tree.append(leaf);
      rootsSeen.push(tree.rootHash());
    }
    const fresh = new MerkleTree();
    for (const leaf of leaves) fresh.append(leaf);
    rootsSeen.forEach((root, i) => expect(fresh.rootHash(i + 1).equals(root)).toBe(true));
  });

  it('rejects indices and sizes outside the tree', () => {
    const tree = new MerkleTree();
    tree.append(hashLeaf(Buffer.from('a')));
    expect(() => tree.inclusionProof(1, 1)).toThrow(RangeError);
    expect(() => tree.rootHash(2)).toThrow(RangeError);
  });
});
