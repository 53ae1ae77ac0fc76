import { readFileSync } from 'node:fs';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import type { LocalStackHandle } from '../dev/stack/ensure-local-stack';
import { TokenFileSource } from '../src/signing/identity/identity-providers';
import { SigstoreSigner } from '../src/signing/sigstore-signer';
import { startPrivateStack } from './support/private-stack';
import { injectFault, pendingFaults } from './support/stack-faults';

/**
 * Rekor answers 409 when the same entry is submitted twice: here because Rekor stored the entry and
 * its answer was lost, so the request was sent again. The service's signer treats that as success and
 * uses the existing entry. Driven through SigstoreSigner itself, against a stack of this file's own
 * that loses the answer on command.
 */
describe('Rekor 409 (entry already exists)', () => {
  let stack: LocalStackHandle;

  beforeAll(async () => {
    stack = await startPrivateStack();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('is success for SigstoreSigner, with the entry the lost answer named', async () => {
    const rekorUrl = stack.env.SIGSTORE_REKOR_URL!;
    const signer = new SigstoreSigner(
      { fulcioUrl: stack.env.SIGSTORE_FULCIO_URL!, rekorUrl, tsaUrl: stack.env.SIGSTORE_TSA_URL },
      new TokenFileSource(stack.env.IDENTITY_TOKEN_FILE!),
    );
    const treeSize = async () => ((await (await fetch(`${rekorUrl}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
    const before = await treeSize();
    await injectFault(rekorUrl, { method: 'POST', path: '/api/v1/log/entries', status: 503, afterHandling: true });

    const payload = Buffer.from(`conflict test ${Date.now()}`);
    const bundle = await signer.signMessage(payload);

    expect(await pendingFaults(rekorUrl)).toEqual([]); // the answer was lost once
    expect(await treeSize()).toBe(before + 1); // and the entry stored once
    const entry = bundle.verificationMaterial.tlogEntries[0]!;
    expect(Number(entry.logIndex)).toBe(before);
    const stored = (await (await fetch(`${rekorUrl}/api/v1/log/entries?logIndex=${before}`)).json()) as Record<string, { body: string }>;
    expect(Object.values(stored)[0]!.body).toBe(entry.canonicalizedBody.toString('base64'));
    // A whole signature: the fetched entry's SET and the rest verify against the stack's trusted root.
    const trustedRoot = TrustedRoot.fromJSON(JSON.parse(readFileSync(stack.env.SIGSTORE_TRUSTED_ROOT_FILE!, 'utf8')));
    const verified = new Verifier(toTrustMaterial(trustedRoot), { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 2 }).verify(toSignedEntity(bundle, payload), {
      subjectAlternativeName: stack.env.LOCAL_CERTIFICATE_IDENTITY!,
    });
    expect(verified.identity?.subjectAlternativeName).toBe(stack.env.LOCAL_CERTIFICATE_IDENTITY);
  });
});
