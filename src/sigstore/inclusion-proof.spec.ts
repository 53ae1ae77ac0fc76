import { createHash } from 'node:crypto';
import { MerkleTree } from '../../dev/stack/merkle-tree';
import { fixtureJson, localStackRekorEntry } from './__fixtures__/vectors';
import { type InclusionProofInput, leafHash, verifyInclusionProof } from './inclusion-proof';

const sha256 = (text: string) => createHash('sha256').update(text).digest();

describe('leafHash', () => {
  it('is SHA-256 of 0x00 and the body: the last 64 hex digits of the entry UUID', () => {
    const entry = localStackRekorEntry();
    expect(leafHash(Buffer.from(entry.body, 'base64')).toString('hex')).toBe(entry.uuid.slice(-64));
    expect(leafHash(Buffer.alloc(0)).toString('hex')).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
  });
});

describe('verifyInclusionProof', () => {
  it('accepts the proof of a public-good entry (leaf 75408392 of 75408393, eleven hashes)', () => {
    const entry = fixtureJson('public-good-hashedrekord.sigstore.json').verificationMaterial.tlogEntries[0];
    const proof: InclusionProofInput = {
      leafIndex: BigInt(entry.inclusionProof.logIndex),
      treeSize: BigInt(entry.inclusionProof.treeSize),
      leafHash: leafHash(Buffer.from(entry.canonicalizedBody, 'base64')),
      hashes: entry.inclusionProof.hashes.map((h: string) => Buffer.from(h, 'base64')),
      rootHash: Buffer.from(entry.inclusionProof.rootHash, 'base64'),
    };
    expect(verifyInclusionProof(proof)).toEqual({ verified: true });
    expect(verifyInclusionProof({ ...proof, leafIndex: proof.leafIndex - 1n }).verified).toBe(false);
    expect(verifyInclusionProof({ ...proof, treeSize: proof.treeSize + 1n }).verified).toBe(false);
  });

  it('accepts the proof the local Rekor gives (hex hashes)', () => {
    const entry = localStackRekorEntry();
    const p = entry.verification!.inclusionProof as { logIndex: number; treeSize: number; rootHash: string; hashes: string[] };
    expect(
      verifyInclusionProof({
        leafIndex: BigInt(p.logIndex),
        treeSize: BigInt(p.treeSize),
        leafHash: leafHash(Buffer.from(entry.body, 'base64')),
        hashes: p.hashes.map((h) => Buffer.from(h, 'hex')),
        rootHash: Buffer.from(p.rootHash, 'hex'),
      }),
    ).toEqual({ verified: true });
  });

  describe('against every leaf of trees of 1 to 40 leaves built by an independent RFC 6962 tree', () => {
    const tree = new MerkleTree();
    for (let i = 0; i < 40; i++) tree.append(leafHash(Buffer.from(`leaf ${i}`)));
    const cases = Array.from({ length: 40 }, (_, s) => s + 1).flatMap((size) => Array.from({ length: size }, (_, index) => [index, size] as const));

    it.each([
      [0, 1],
      [0, 2],
      [1, 2],
      [6, 7],
      [31, 32],
      [32, 33],
      [17, 40],
    ])('leaf %i of %i', (index, size) => {
      const proof = {
        leafIndex: BigInt(index),
        treeSize: BigInt(size),
        leafHash: leafHash(Buffer.from(`leaf ${index}`)),
        hashes: tree.inclusionProof(index, size),
        rootHash: tree.rootHash(size),
      };
      expect(verifyInclusionProof(proof)).toEqual({ verified: true });
    });

    it('accepts all of them and rejects each with one hash changed, the wrong index or the wrong root', () => {
      for (const [index, size] of cases) {
        const hashes = tree.inclusionProof(index, size);
        const good: InclusionProofInput = {
          leafIndex: BigInt(index),
          treeSize: BigInt(size),
          leafHash: leafHash(Buffer.from(`leaf ${index}`)),
          hashes,
          rootHash: tree.rootHash(size),
        };
        expect([index, size, verifyInclusionProof(good).verified]).toEqual([index, size, true]);
        for (let h = 0; h < hashes.length; h++) {
          const altered = hashes.map((x, i) => (i === h ? sha256(`other ${h}`) : x));
          expect(verifyInclusionProof({ ...good, hashes: altered }).verified).toBe(false);
        }
        if (size > 1) expect(verifyInclusionProof({ ...good, leafIndex: BigInt((index + 1) % size) }).verified).toBe(false);
        expect(verifyInclusionProof({ ...good, rootHash: tree.rootHash(size === 1 ? 2 : size - 1) }).verified).toBe(false);
      }
    });
  });

  it('says why it fails: index outside the tree, too many or too few hashes, another root', () => {
    const tree = new MerkleTree();
    for (let i = 0; i < 5; i++) tree.append(leafHash(Buffer.from([i])));
    const good = { leafIndex: 2n, treeSize: 5n, leafHash: leafHash(Buffer.from([2])), hashes: tree.inclusionProof(2, 5), rootHash: tree.rootHash(5) };
    expect(verifyInclusionProof({ ...good, leafIndex: 5n })).toEqual({ verified: false, reason: 'leaf index 5 is outside a tree of size 5' });
    expect(verifyInclusionProof({ ...good, hashes: [...good.hashes, sha256('extra')] })).toMatchObject({ verified: false, reason: expect.stringContaining('more than') });
    expect(verifyInclusionProof({ ...good, hashes: good.hashes.slice(1) })).toMatchObject({ verified: false, reason: expect.stringContaining('fewer than') });
    expect(verifyInclusionProof({ ...good, rootHash: sha256('root') })).toEqual({ verified: false, reason: 'the audit path does not lead to the root hash' });
    expect(verifyInclusionProof({ ...good, hashes: [Buffer.alloc(31), ...good.hashes.slice(1)] })).toMatchObject({ verified: false, reason: expect.stringContaining('32-byte') });
  });
});
