import { bundleEntryUuid, fixtureJson, localStackRekorEntry, logKeys } from './__fixtures__/vectors';
import { leafHash } from './inclusion-proof';
import { type TlogEntry, TlogEntryFormatError, tlogEntryFromBundle, tlogEntryFromRekor } from './tlog-entry';
import { verifyTlogEntry } from './tlog-entry-verification';
import { tlogEntryView } from '../transparency/tlog-entry-view';

const BUNDLE = 'public-good-hashedrekord.sigstore.json';
const publicGood = () => tlogEntryFromBundle(fixtureJson(BUNDLE), bundleEntryUuid(BUNDLE));
const local = () => tlogEntryFromRekor(localStackRekorEntry());
const publicGoodKeys = logKeys('public-good-trusted-root.json');
const localKeys = logKeys('local-stack-trusted-root.json');

describe('tlogEntryFromRekor and tlogEntryFromBundle', () => {
  it('read the same fields from Rekor hex and bundle base64', () => {
    const entry = publicGood();
    expect(entry).toMatchObject({ logIndex: 79571823, integratedTime: 1710869186, logId: 'c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d' });
    expect(entry.inclusionProof).toMatchObject({ logIndex: 75408392n, treeSize: 75408393n });
    expect(entry.inclusionProof!.hashes).toHaveLength(11);

    const answer = localStackRekorEntry();
    const fromRekor = local();
    expect(fromRekor).toMatchObject({ uuid: answer.uuid, logIndex: answer.logIndex, integratedTime: answer.integratedTime, logId: answer.logID });
    expect(fromRekor.body.toString('base64')).toBe(answer.body);
  });

  it('refuse answers that are not log entries', () => {
    const answer = localStackRekorEntry();
    expect(() => tlogEntryFromRekor({ ...answer, logIndex: -1 })).toThrow(TlogEntryFormatError);
    expect(() => tlogEntryFromRekor({ ...answer, logID: 'not hex' })).toThrow('logID is not hexadecimal');
    expect(() => tlogEntryFromRekor({ ...answer, body: '%%%' })).toThrow('body is not base64');
    expect(() => tlogEntryFromBundle({ verificationMaterial: { tlogEntries: [] } }, 'ab'.repeat(32))).toThrow('the bundle has no transparency log entry');
    expect(() => tlogEntryFromBundle({}, 'ab'.repeat(32))).toThrow(TlogEntryFormatError);
  });
});

describe('verifyTlogEntry', () => {
  it('verifies SET, inclusion proof and checkpoint of a public-good entry', () => {
    expect(verifyTlogEntry(publicGood(), publicGoodKeys)).toEqual({
      setVerified: true,
      inclusionProofVerified: true,
      checkpointVerified: true,
      leafHashMatchesUuid: true,
      failures: [],
    });
  });

  it("verifies an entry as the local Rekor answers it with the local stack's trust root, not with public-good's", () => {
    expect(verifyTlogEntry(local(), localKeys)).toEqual({ setVerified: true, inclusionProofVerified: true, checkpointVerified: true, leafHashMatchesUuid: true, failures: [] });
    const withOtherRoot = verifyTlogEntry(local(), publicGoodKeys);
    expect(withOtherRoot).toMatchObject({ setVerified: false, inclusionProofVerified: false, checkpointVerified: false, leafHashMatchesUuid: true });
    expect(withOtherRoot.failures).toEqual([
      expect.stringMatching(/^set: no trusted transparency log has log ID/),
      'checkpoint: no checkpoint signature verifies with a trusted log key',
    ]);
  });

  it('notices a changed body: SET, leaf hash and inclusion proof all fail', () => {
    const entry = publicGood();
    const body = Buffer.from(entry.body);
    body[10] ^= 1;
    const result = verifyTlogEntry({ ...entry, body }, publicGoodKeys);
    expect(result).toMatchObject({ setVerified: false, inclusionProofVerified: false, checkpointVerified: true, leafHashMatchesUuid: false });
    expect(result.failures).toHaveLength(3);
  });

  it('notices an audit path that does not lead to the root hash', () => {
    const entry = publicGood();
    const proof = entry.inclusionProof!;
    const altered: TlogEntry = { ...entry, inclusionProof: { ...proof, hashes: [...proof.hashes.slice(0, -1), Buffer.alloc(32)] } };
    const result = verifyTlogEntry(altered, publicGoodKeys);
    expect(result).toMatchObject({ setVerified: true, inclusionProofVerified: false, checkpointVerified: true });
    expect(result.failures).toEqual(['inclusion proof: the audit path does not lead to the root hash']);
  });

  it('notices a proof to a root hash the signed checkpoint does not commit to', () => {
    const entry = publicGood();
    // A valid proof in a one-leaf tree (root = leaf hash), beside public-good's checkpoint of another tree.
    const altered: TlogEntry = { ...entry, inclusionProof: { ...entry.inclusionProof!, logIndex: 0n, treeSize: 1n, hashes: [], rootHash: leafHash(entry.body) } };
    const result = verifyTlogEntry(altered, publicGoodKeys);
    expect(result).toMatchObject({ setVerified: true, inclusionProofVerified: false, checkpointVerified: true });
    expect(result.failures).toEqual(['inclusion proof: its root hash and tree size are not the ones the checkpoint signs']);
  });

  it('reports a missing inclusion proof and SET as such', () => {
    const result = verifyTlogEntry({ ...publicGood(), inclusionProof: null, signedEntryTimestamp: null }, publicGoodKeys);
    expect(result).toEqual({
      setVerified: false,
      inclusionProofVerified: null,
      checkpointVerified: null,
      leafHashMatchesUuid: true,
      failures: ['set: the entry has no signed entry timestamp'],
    });
  });

  it('reports an unavailable trust root instead of throwing', () => {
    const result = verifyTlogEntry(publicGood(), new Error('TUF repository unreachable'));
    expect(result).toMatchObject({ setVerified: false, inclusionProofVerified: false, checkpointVerified: false });
    expect(result.failures).toEqual(['trust root unavailable: TUF repository unreachable']);
  });
});

describe('tlogEntryView', () => {
  it('shows what rekor-cli get shows, with the certificate decoded', () => {
    const entry = publicGood();
    const view = tlogEntryView(entry, 'records', verifyTlogEntry(entry, publicGoodKeys));
    expect(view).toMatchObject({
      LogID: 'c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d',
      Index: 79571823,
      IntegratedTime: '2024-03-19T17:26:26Z',
      UUID: bundleEntryUuid(BUNDLE),
      Body: { apiVersion: '0.0.1', kind: 'hashedrekord' },
      source: 'records',
      inclusionProof: { logIndex: 75408392, treeSize: 75408393, rootHash: '1679e3d7752ed63764b0f7381d92daa4a5f7dbd755943e7e30636c8aa06ad573' },
      verification: { setVerified: true, inclusionProofVerified: true },
    });
    expect(view.certificate!.decoded).toMatchObject({ issuer: 'O=sigstore.dev, CN=sigstore-intermediate', oidcIssuer: 'https://token.actions.githubusercontent.com' });
    expect(view.certificate!.pem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
  });
});
