import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { fixtureJson, localStackRekorEntry, logKeys } from './__fixtures__/vectors';
import { parseSignedCheckpoint, verifySignedCheckpoint } from './checkpoint';

const publicGoodEnvelope: string = fixtureJson('public-good-hashedrekord.sigstore.json').verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope;
const localEnvelope = (localStackRekorEntry().verification!.inclusionProof as { checkpoint: string }).checkpoint;

describe('parseSignedCheckpoint', () => {
  it('splits the note, the checkpoint and the signature lines', () => {
    const parsed = parseSignedCheckpoint(publicGoodEnvelope);
    expect(parsed.note).toBe('rekor.sigstore.dev - 2605736670972794746\n75408393\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n');
    expect(parsed.checkpoint).toEqual({
      origin: 'rekor.sigstore.dev - 2605736670972794746',
      treeSize: 75408393n,
      rootHash: Buffer.from('Fnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=', 'base64'),
    });
    expect(parsed.signatures).toHaveLength(1);
    expect(parsed.signatures[0]!.name).toBe('rekor.sigstore.dev');
    expect(parsed.signatures[0]!.keyHint.toString('hex')).toBe('c0d23d6a');
  });

  it('refuses a note without the blank line or with a bad size', () => {
    expect(() => parseSignedCheckpoint('origin\n1\nAAAA\n')).toThrow('no blank line');
    expect(() => parseSignedCheckpoint('origin\nx\nAAAA\n\n— origin AAAAAAAA\n')).toThrow('not a number');
  });
});

describe('verifySignedCheckpoint', () => {
  it("verifies public-good's and the local stack's checkpoints with their trust roots, not with each other's", () => {
    expect(verifySignedCheckpoint(publicGoodEnvelope, logKeys('public-good-trusted-root.json'))).toMatchObject({ verified: true, checkpoint: { treeSize: 75408393n } });
    expect(verifySignedCheckpoint(localEnvelope, logKeys('local-stack-trusted-root.json')).verified).toBe(true);
    expect(verifySignedCheckpoint(publicGoodEnvelope, logKeys('local-stack-trusted-root.json')).verified).toBe(false);
  });

  it('refuses a checkpoint whose root hash or size was changed', () => {
    const keys = logKeys('public-good-trusted-root.json');
    expect(verifySignedCheckpoint(publicGoodEnvelope.replace('\n75408393\n', '\n75408394\n'), keys)).toEqual({
      verified: false,
      reason: 'no checkpoint signature verifies with a trusted log key',
    });
    expect(verifySignedCheckpoint(publicGoodEnvelope.replace('Fnnj13', 'Fnnj14'), keys).verified).toBe(false);
  });

  it('needs the key hint to match the log ID and the signer name to be in its base URL', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const logID = createHash('sha256')
      .update(publicKey.export({ format: 'der', type: 'spki' }))
      .digest();
    const key = { logID, baseURL: 'https://log.example', publicKey, validFor: { start: new Date(0), end: new Date('2100-01-01') } };
    const note = 'log.example - 1\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';
    const signed = (hint: Buffer, name: string) => `${note}\n\u2014 ${name} ${Buffer.concat([hint, sign('sha256', Buffer.from(note), privateKey)]).toString('base64')}\n`;
    expect(verifySignedCheckpoint(signed(logID.subarray(0, 4), 'log.example'), [key]).verified).toBe(true);
    expect(verifySignedCheckpoint(signed(Buffer.from('abcd'), 'log.example'), [key]).verified).toBe(false);
    expect(verifySignedCheckpoint(signed(logID.subarray(0, 4), 'other.example'), [key]).verified).toBe(false);
  });
});
