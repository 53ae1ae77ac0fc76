import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { RekorWitness } from '@sigstore/sign';
import { testEnvironment } from './support/test-environment';

/**
 * Rekor answers 409 when the same entry is submitted twice (a step re-run after a crash that happened
 * after Rekor accepted the entry). Signing treats that as success and uses the existing entry: the
 * witness is configured as SigstoreSigner configures it.
 */
describe('Rekor 409 (entry already exists)', () => {
  it('is success, with the existing entry fetched', async () => {
    const { stackEnv } = testEnvironment();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const artifact = Buffer.from(`conflict test ${Date.now()}`);
    const content = {
      $case: 'messageSignature' as const,
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256' as const, digest: createHash('sha256').update(artifact).digest() },
        signature: sign('sha256', artifact, privateKey),
      },
    };
    const keyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const witness = new RekorWitness({ rekorBaseURL: stackEnv.SIGSTORE_REKOR_URL!, fetchOnConflict: true, majorApiVersion: 1 });

    const first = await witness.testify(content as never, keyPem);
    const again = await witness.testify(content as never, keyPem);
    const [a, b] = [first.tlogEntries[0]!, again.tlogEntries[0]!];
    expect(b.logIndex).toBe(a.logIndex);
    expect(b.canonicalizedBody.equals(a.canonicalizedBody)).toBe(true);
    expect(b.inclusionPromise?.signedEntryTimestamp.equals(a.inclusionPromise!.signedEntryTimestamp)).toBe(true);
  });
});
