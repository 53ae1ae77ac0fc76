import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { VerificationMaterial, Witness } from '@sigstore/sign';
import { SigstoreRetryAfter } from './sigstore-retry-after';
import { TimestampThenLogWitness } from './sigstore-signer';

const entry = { logIndex: '7' } as unknown as NonNullable<VerificationMaterial['tlogEntries']>[number];
const timestamp = { signedTimestamp: Buffer.from('ts') } as unknown as NonNullable<VerificationMaterial['rfc3161Timestamps']>[number];

function witness(name: string, calls: string[], outcome: VerificationMaterial | Error): Witness {
  return {
    testify: async () => {
      calls.push(name);
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
  };
}

describe('TimestampThenLogWitness', () => {
  const args = [{} as Parameters<Witness['testify']>[0], 'key'] as const;

  it('asks the TSA, then Rekor, and returns both answers', async () => {
    const calls: string[] = [];
    const both = new TimestampThenLogWitness(witness('tsa', calls, { rfc3161Timestamps: [timestamp] }), witness('rekor', calls, { tlogEntries: [entry] }));
    expect(await both.testify(...args)).toEqual({ tlogEntries: [entry], rfc3161Timestamps: [timestamp] });
    expect(calls).toEqual(['tsa', 'rekor']);
  });

  it('leaves nothing in the log when the TSA fails: Rekor is not asked', async () => {
    const calls: string[] = [];
    const failing = new TimestampThenLogWitness(witness('tsa', calls, new Error('TSA down')), witness('rekor', calls, { tlogEntries: [entry] }));
    await expect(failing.testify(...args)).rejects.toThrow('TSA down');
    expect(calls).toEqual(['tsa']);
  });
});

describe('SigstoreRetryAfter', () => {
  let server: Server;
  let base: string;
  let answer: { status: number; retryAfter?: string };

  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(answer.status, answer.retryAfter ? { 'retry-after': answer.retryAfter } : {}).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const call = (path: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request(`${base}${path}`, { method: 'POST' }, (res) => res.resume().once('end', resolve));
      req.once('error', reject);
      req.end();
    });

  it("remembers a 429's or 503's Retry-After per service, until it has passed", async () => {
    let now = 1_000_000;
    const hints = new SigstoreRetryAfter({ fulcioUrl: `${base}/fulcio`, rekorUrl: `${base}/rekor`, tsaUrl: `${base}/tsa` }, () => now);
    try {
      answer = { status: 429, retryAfter: '3' };
      await call('/tsa');
      answer = { status: 500, retryAfter: '9' };
      await call('/rekor');
      expect([hints.remainingMs('tsa'), hints.remainingMs('rekor'), hints.remainingMs('fulcio')]).toEqual([3_000, undefined, undefined]);
      answer = { status: 503, retryAfter: '1' };
      await call('/fulcio');
      now += 1_500;
      expect([hints.remainingMs('tsa'), hints.remainingMs('fulcio')]).toEqual([1_500, undefined]);
    } finally {
      hints.onModuleDestroy();
    }
  });
});
