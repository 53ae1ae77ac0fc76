import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { fixtureJson, localStackRekorEntry, logKeys } from './__fixtures__/vectors';
import { type SignedEntryFields, signedEntryPayload, verifySignedEntryTimestamp } from './signed-entry-timestamp';
import type { TransparencyLogKey } from './transparency-log-key';

/** A log key made for the test, valid for 2020–2030. */
function testLog(type: 'ec' | 'ed25519' = 'ec'): { key: TransparencyLogKey; sign: (data: Buffer) => Buffer } {
  const { publicKey, privateKey } = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const logID = createHash('sha256')
    .update(publicKey.export({ format: 'der', type: 'spki' }))
    .digest();
  return {
    key: { logID, baseURL: 'https://rekor.test', publicKey, validFor: { start: new Date('2020-01-01T00:00:00Z'), end: new Date('2030-01-01T00:00:00Z') } },
    sign: (data) => sign(type === 'ec' ? 'sha256' : null, data, privateKey),
  };
}

describe('signedEntryPayload', () => {
  it('is the canonical JSON of body (base64), integratedTime, logID and logIndex, keys sorted', () => {
    const payload = signedEntryPayload({ body: Buffer.from('{"a":1}'), integratedTime: 1700000000, logId: 'ab'.repeat(32), logIndex: 42 });
    expect(payload.toString('utf8')).toBe(`{"body":"eyJhIjoxfQ==","integratedTime":1700000000,"logID":"${'ab'.repeat(32)}","logIndex":42}`);
  });
});

describe('verifySignedEntryTimestamp', () => {
  it('verifies the SET of a public-good entry with the public-good Rekor key', () => {
    const entry = fixtureJson('public-good-hashedrekord.sigstore.json').verificationMaterial.tlogEntries[0];
    const fields: SignedEntryFields = {
      body: Buffer.from(entry.canonicalizedBody, 'base64'),
      integratedTime: Number(entry.integratedTime),
      logId: Buffer.from(entry.logId.keyId, 'base64').toString('hex'),
      logIndex: Number(entry.logIndex),
    };
    const set = Buffer.from(entry.inclusionPromise.signedEntryTimestamp, 'base64');
    const keys = logKeys('public-good-trusted-root.json');
    expect(verifySignedEntryTimestamp(fields, set, keys)).toMatchObject({ verified: true, key: { baseURL: 'https://rekor.sigstore.dev' } });
    expect(verifySignedEntryTimestamp({ ...fields, logIndex: fields.logIndex + 1 }, set, keys)).toEqual({
      verified: false,
      reason: 'the signed entry timestamp does not verify with the log key',
    });
    expect(verifySignedEntryTimestamp({ ...fields, integratedTime: fields.integratedTime + 1 }, set, keys).verified).toBe(false);
    // The local stack's key is not public-good's.
    expect(verifySignedEntryTimestamp(fields, set, logKeys('local-stack-trusted-root.json'))).toEqual({
      verified: false,
      reason: `no trusted transparency log has log ID ${fields.logId}`,
    });
  });

  it("verifies the SET the local Rekor gives with the local stack's trusted root", () => {
    const entry = localStackRekorEntry();
    const fields: SignedEntryFields = { body: Buffer.from(entry.body, 'base64'), integratedTime: entry.integratedTime, logId: entry.logID, logIndex: entry.logIndex };
    const set = Buffer.from(entry.verification!.signedEntryTimestamp!, 'base64');
    expect(verifySignedEntryTimestamp(fields, set, logKeys('local-stack-trusted-root.json')).verified).toBe(true);
    const otherBody = Buffer.from(entry.body, 'base64');
    otherBody[otherBody.length - 2] ^= 1;
    expect(verifySignedEntryTimestamp({ ...fields, body: otherBody }, set, logKeys('local-stack-trusted-root.json')).verified).toBe(false);
  });

  it.each(['ec', 'ed25519'] as const)('verifies a SET made with a %s log key, and nothing else', (type) => {
    const log = testLog(type);
    const other = testLog(type);
    const fields: SignedEntryFields = { body: Buffer.from('{"kind":"hashedrekord"}'), integratedTime: 1750000000, logId: log.key.logID.toString('hex'), logIndex: 7 };
    const set = log.sign(signedEntryPayload(fields));
    expect(verifySignedEntryTimestamp(fields, set, [other.key, log.key]).verified).toBe(true);
    expect(verifySignedEntryTimestamp(fields, other.sign(signedEntryPayload(fields)), [log.key]).verified).toBe(false);
    expect(verifySignedEntryTimestamp(fields, Buffer.from('not a signature'), [log.key]).verified).toBe(false);
    // A log key with the right ID that does not match the signature (a forged trust root entry) fails too.
    expect(verifySignedEntryTimestamp(fields, set, [{ ...other.key, logID: log.key.logID }]).verified).toBe(false);
  });

  it('refuses a SET from when the log key was not valid', () => {
    const log = testLog();
    const fields: SignedEntryFields = { body: Buffer.from('{}'), integratedTime: Date.parse('2031-06-01T00:00:00Z') / 1000, logId: log.key.logID.toString('hex'), logIndex: 1 };
    const result = verifySignedEntryTimestamp(fields, log.sign(signedEntryPayload(fields)), [log.key]);
    expect(result).toEqual({ verified: false, reason: `the key of log ${fields.logId} was not valid at the integrated time 2031-06-01T00:00:00.000Z` });
  });
});
