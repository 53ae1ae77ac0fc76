import { tlogEntryFromBundle } from './tlog-entry';

describe('tlogEntryFromBundle', () => {
  const entry = (fields: Record<string, unknown>) => ({
    verificationMaterial: {
      tlogEntries: [
        {
          integratedTime: '1700000000',
          logId: { keyId: Buffer.alloc(32, 1).toString('base64') },
          canonicalizedBody: Buffer.from('{}').toString('base64'),
          inclusionPromise: { signedEntryTimestamp: Buffer.from('set').toString('base64') },
          ...fields,
        },
      ],
    },
  });

  it('reads a log index written as a decimal string', () => {
    expect(tlogEntryFromBundle(entry({ logIndex: '42' }), 'ab'.repeat(32)).logIndex).toBe(42);
  });

  it('reads a missing log index as 0, as proto3 JSON writes the first entry of a log', () => {
    expect(tlogEntryFromBundle(entry({}), 'ab'.repeat(32)).logIndex).toBe(0);
  });

  it('still refuses a log index that is not a number', () => {
    expect(() => tlogEntryFromBundle(entry({ logIndex: 'x' }), 'ab'.repeat(32))).toThrow('logIndex is not a non-negative integer');
  });
});
