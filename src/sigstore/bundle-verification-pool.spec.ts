import { join } from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { bundleFromJSON } from '@sigstore/bundle';
import { parseArtifactDigest } from './artifact-binding';
import { BundleVerificationPool, VerificationBusyError, type VerificationTrust } from './bundle-verification-pool';
import { verifyBundle } from './bundle-verifier';
import type { SignerPolicy } from './signer-policy';
import { trustMaterialOf } from './trusted-root';
import { WholeStringRegExp } from '../common/caller-regexp';
import { fixtureJson } from './__fixtures__/vectors';

const IDENTITY = 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const ISSUER = 'https://token.actions.githubusercontent.com';
const bundle = fixtureJson('public-good-dsse.sigstore.json');
const root = TrustedRoot.fromJSON(fixtureJson('public-good-trusted-root.json'));
const trust: VerificationTrust = { name: 'public-good', material: trustMaterialOf(root), root };
const exact = (value: string) => ({ kind: 'exact' as const, value });
const policy: SignerPolicy = { kind: 'certificate', identity: exact(IDENTITY), issuer: exact(ISSUER) };
const regexpPolicy: SignerPolicy = {
  kind: 'certificate',
  identity: { kind: 'regexp', source: 'https://github\\.com/sigstore-conformance/.+', regexp: WholeStringRegExp.compile('https://github\\.com/sigstore-conformance/.+') },
  issuer: exact(ISSUER),
};
const POISONED_WORKER = { file: join(__dirname, '__fixtures__/poisoned-verification-worker.ts'), execArgv: ['--require', require.resolve('tsx/cjs')] };

describe('BundleVerificationPool', () => {
  describe('on worker threads', () => {
    let pool: BundleVerificationPool;
    beforeAll(() => {
      pool = new BundleVerificationPool({ threads: 2 });
    });
    afterAll(() => pool.close());

    it('gives the answer sigstore-js gives on the calling thread, for a bundle that verifies and one that does not', async () => {
      const inProcess = verifyBundle({ bundle: bundleFromJSON(bundle), artifact: undefined, policy, trustMaterial: trust.material });
      expect(inProcess.verified).toBe(true);
      await expect(pool.verify(bundle, { artifact: undefined, policy, trust })).resolves.toEqual({ verified: true, identity: IDENTITY, issuer: ISSUER });
      await expect(pool.verify(bundle, { artifact: undefined, policy: regexpPolicy, trust })).resolves.toMatchObject({ verified: true, identity: IDENTITY });

      const otherIdentity: SignerPolicy = { ...policy, identity: exact('https://example.com/someone-else') };
      await expect(pool.verify(bundle, { artifact: undefined, policy: otherIdentity, trust })).resolves.toMatchObject({
        verified: false,
        identity: IDENTITY,
        error: { code: 'POLICY_IDENTITY_MISMATCH' },
      });
    });

    it('checks the artifact the bundle must be about (bytes cross to the thread)', async () => {
      const otherDigest = parseArtifactDigest(`sha256:${'ab'.repeat(32)}`);
      await expect(pool.verify(bundle, { artifact: otherDigest, policy, trust })).resolves.toMatchObject({ verified: false, error: { code: 'ARTIFACT_MISMATCH' } });
      await expect(pool.verify(bundle, { artifact: { kind: 'bytes', bytes: Buffer.from('not the statement') }, policy, trust })).resolves.toMatchObject({
        verified: false,
        error: { code: 'ARTIFACT_MISMATCH' },
      });
    });

    it('answers a tampered or malformed bundle as not verified, never by throwing', async () => {
      const tampered = structuredClone(bundle);
      tampered.dsseEnvelope.signatures[0].sig = Buffer.from('forged').toString('base64');
      // The Rekor entry records the original signature: the forged one is caught there first.
      await expect(pool.verify(tampered, { artifact: undefined, policy, trust })).resolves.toMatchObject({ verified: false, error: { code: 'TLOG_BODY_MISMATCH' } });
      await expect(pool.verify({ mediaType: 'nonsense' }, { artifact: undefined, policy, trust })).resolves.toMatchObject({ verified: false });
    });

    it('runs many verifications at once on no more threads than it was given', async () => {
      const answers = await Promise.all(Array.from({ length: 12 }, () => pool.verify(bundle, { artifact: undefined, policy, trust })));
      expect(answers.every((answer) => answer.verified)).toBe(true);
      expect(pool.threads).toBe(2);
    });

    it('verifies on the calling thread when the trust material was not made from a trusted root document', async () => {
      await expect(pool.verify(bundle, { artifact: undefined, policy, trust: { name: 'made-here', material: trust.material } })).resolves.toMatchObject({ verified: true });
    });
  });

  describe('when a thread dies on a poisoned bundle', () => {
    let pool: BundleVerificationPool;
    const failures: string[] = [];
    beforeAll(() => {
      pool = new BundleVerificationPool({ threads: 2, threadMemoryMb: 64, taskTimeoutMs: 8_000, worker: POISONED_WORKER, onThreadFailure: (reason) => failures.push(reason) });
    });
    afterAll(() => pool.close());

    it.each(['out-of-memory', 'exit'])(
      '%s: the bundle fails with VERIFIER_FAILED after one more try, and the pool keeps answering',
      async (poison) => {
        const crashesBefore = pool.threadCrashes;
        failures.length = 0;
        const [poisoned, ...others] = await Promise.all([
          pool.verify({ poison }, { artifact: undefined, policy, trust }),
          ...Array.from({ length: 4 }, () => pool.verify(bundle, { artifact: undefined, policy, trust })),
        ]);
        expect(poisoned).toMatchObject({ verified: false, error: { code: 'VERIFIER_FAILED', message: expect.stringContaining('failed twice') } });
        expect(pool.threadCrashes - crashesBefore).toBe(2);
        expect(failures).toEqual(['crash', 'crash']);
        expect(others.every((answer) => answer.verified)).toBe(true);
        await expect(pool.verify(bundle, { artifact: undefined, policy, trust })).resolves.toMatchObject({ verified: true, identity: IDENTITY });
      },
      60_000,
    );

    it('a verification that never finishes is stopped at the timeout, and the pool keeps answering', async () => {
      const stopped: string[] = [];
      const fast = new BundleVerificationPool({ threads: 1, taskTimeoutMs: 1_000, worker: POISONED_WORKER, onThreadFailure: (reason) => stopped.push(reason) });
      try {
        const started = Date.now();
        await expect(fast.verify({ poison: 'endless' }, { artifact: undefined, policy, trust })).resolves.toMatchObject({
          verified: false,
          error: { code: 'VERIFIER_FAILED', message: expect.stringContaining('did not finish within 1000 ms of a thread taking it') },
        });
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(stopped).toEqual(['timeout']);
        await expect(fast.verify(bundle, { artifact: undefined, policy, trust })).resolves.toMatchObject({ verified: true });
      } finally {
        await fast.close();
      }
    }, 60_000);
  });

  it('refuses work beyond its queue with a transient VERIFICATION_BUSY instead of queueing without bound', async () => {
    const small = new BundleVerificationPool({ threads: 1, maxQueue: 2, worker: POISONED_WORKER, taskTimeoutMs: 2_000 });
    try {
      const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => small.verify(bundle, { artifact: undefined, policy, trust })));
      const refused = outcomes.filter((outcome) => outcome.status === 'rejected').map((outcome) => (outcome as PromiseRejectedResult).reason as unknown);
      expect(refused.length).toBeGreaterThan(0);
      for (const error of refused) expect(error).toMatchObject({ name: 'VerificationBusyError', code: 'VERIFICATION_BUSY', transient: true, retryAfterMs: 1_000 });
      expect(refused[0]).toBeInstanceOf(VerificationBusyError);
      expect(outcomes.some((outcome) => outcome.status === 'fulfilled' && outcome.value.verified)).toBe(true);
    } finally {
      await small.close();
    }
  }, 60_000);

  it('without threads, verifies on the event loop (what the library surface uses by default)', async () => {
    const inProcess = new BundleVerificationPool();
    expect(inProcess.threads).toBe(0);
    await expect(inProcess.verify(bundle, { artifact: undefined, policy, trust })).resolves.toEqual({ verified: true, identity: IDENTITY, issuer: ISSUER });
  });
});
