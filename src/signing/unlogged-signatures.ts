import { createHash } from 'node:crypto';
import type { Signature, Signer } from '@sigstore/sign';
import { CERTIFICATE_RENEWAL_MARGIN_MS, notAfterMs } from './fulcio-session-signer';

/** Signatures kept at most (the oldest is dropped first). */
const MAX_KEPT = 1_000;

/**
 * Signatures made but not logged: a step that failed transiently after signing (Rekor or the TSA did not
 * answer in time, or at all) is retried with the very same signature, in this process, while its
 * certificate is still good for a while. Rekor may have stored the first submission all the same (a
 * slow answer, a lost one): the retry then meets 409 and uses that entry, so the log never holds an entry
 * for a signature that was thrown away. A retry in another process signs anew.
 *
 * Keyed by the job and the SHA-256 of the signed bytes; only the signature and its certificate are
 * kept, never a key.
 */
export class UnloggedSignatures {
  private readonly kept = new Map<string, { signature: Signature; notAfterMs: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * A signer for one signature: it signs with `signer` unless a kept signature of the same bytes, made
   * in the same `scope` (a job: another job signs anew), is still usable. Without a scope nothing is kept. `settle` is to be called with the outcome: on a transient failure the signature made
   * is kept for the retry, otherwise it is forgotten.
   */
  around(signer: Signer, scope: string | undefined): { signer: Signer; settle: (outcome: 'logged' | 'retry' | 'abandon') => void } {
    if (scope === undefined) return { signer, settle: () => undefined };
    let made: { digest: string; signature: Signature } | undefined;
    return {
      signer: {
        sign: async (data) => {
          const digest = `${scope}\n${createHash('sha256').update(data).digest('hex')}`;
          const kept = this.kept.get(digest);
          this.kept.delete(digest);
          const signature = kept && kept.notAfterMs - CERTIFICATE_RENEWAL_MARGIN_MS > this.now() ? kept.signature : await signer.sign(data);
          made = { digest, signature };
          return signature;
        },
      },
      settle: (outcome) => {
        if (!made || outcome !== 'retry' || made.signature.key.$case !== 'x509Certificate') return;
        this.kept.set(made.digest, { signature: made.signature, notAfterMs: notAfterMs(made.signature.key.certificate) });
        for (const digest of this.kept.keys()) {
          if (this.kept.size <= MAX_KEPT) break;
          this.kept.delete(digest);
        }
      },
    };
  }
}
