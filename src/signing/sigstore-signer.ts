import type { Bundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, type Signer, TSAWitness, type VerificationMaterial, type Witness } from '@sigstore/sign';
import type { SigningCertificateScope } from '../config/config.schema';
import type { IdentityTokenSource } from './identity/identity-providers';
import { checkWorkloadToken } from './identity/workload-token';
import { IN_TOTO_PAYLOAD_TYPE } from '../signature-formats/sigstore-bundle-referrer';
import type { SigningEndpoints } from '../sigstore/signing-endpoints';
import { FulcioSessionSigner } from './fulcio-session-signer';
import { toSigningStepError } from './sigstore-errors';
import type { SigstoreRetryAfter } from './sigstore-retry-after';
import { UnloggedSignatures } from './unlogged-signatures';

/** The signatures of one job step: with the `job` scope they share one ephemeral key and one Fulcio certificate. */
export interface SigningSession {
  /** A message-signature bundle over `payload` (hashedrekord entry): the cosign classic signature. */
  signMessage(payload: Buffer): Promise<Bundle>;
  /** A DSSE bundle over an in-toto statement (dsse entry): the cosign v3 bundle signature. */
  signStatement(statement: Buffer): Promise<Bundle>;
}

/**
 * The TSA first, then Rekor, for one signature (sigstore-js would ask both at once). A signature that
 * fails for good is made anew when the step is retried (a new key and certificate): had Rekor logged it
 * while the TSA failed, the log would keep an entry for a signature that was never attached. Asked in
 * this order, a failing TSA leaves nothing in the log; a failing Rekor only wastes a timestamp.
 */
export class TimestampThenLogWitness implements Witness {
  constructor(
    private readonly tsa: Witness,
    private readonly rekor: Witness,
  ) {}

  async testify(...args: Parameters<Witness['testify']>): Promise<VerificationMaterial> {
    const timestamps = await this.tsa.testify(...args);
    const log = await this.rekor.testify(...args);
    return { tlogEntries: log.tlogEntries ?? [], rfc3161Timestamps: timestamps.rfc3161Timestamps ?? [] };
  }
}

/**
 * Keyless signing through sigstore-js. Tokens from the identity source are checked before Fulcio sees
 * them. Signatures are made in sessions, one per job step: with the `job` certificate scope (the
 * default) a session fetches one token, makes one ephemeral key and gets one Fulcio certificate for all
 * its signatures (a new one when it would expire too soon, see FulcioSessionSigner); with `signature`
 * each signature gets its own token, key and certificate. Every signature gets its own entry in Rekor
 * (an existing identical entry, HTTP 409, is fetched and used) and a TSA timestamp when one is configured.
 * A signature whose witnessing failed transiently is kept (UnloggedSignatures) and submitted again by
 * the step's retry in this process, so that a slow Rekor that logged it after all is not left with an
 * entry for a signature that was never attached.
 */
export class SigstoreSigner {
  private readonly unlogged = new UnloggedSignatures();

  constructor(
    private readonly endpoints: SigningEndpoints,
    private readonly tokens: IdentityTokenSource,
    private readonly timeoutMs = 30_000,
    readonly certificateScope: SigningCertificateScope = 'job',
    /** What the services said about when to come back (their Retry-After), for the step's retry. */
    private readonly retryAfter?: Pick<SigstoreRetryAfter, 'remainingMs'>,
  ) {}

  /**
   * A session for the signatures of one job step; drop it when the step ends (its key lives only in it).
   * `retryScope` (the job's id) lets a retry of the step resubmit a signature whose witnessing failed
   * transiently in an earlier session of the same scope (UnloggedSignatures); without it nothing is kept.
   */
  session(retryScope?: string): SigningSession {
    const fulcio = this.certificateScope === 'job' ? new FulcioSessionSigner(this.fulcioOptions()) : undefined;
    const signer = (): Signer => fulcio ?? new FulcioSigner(this.fulcioOptions());
    return {
      signMessage: (payload) => this.sign(signer(), retryScope, (options) => new MessageSignatureBundleBuilder(options), { data: payload }),
      signStatement: (statement) => this.sign(signer(), retryScope, (options) => new DSSEBundleBuilder(options), { data: statement, type: IN_TOTO_PAYLOAD_TYPE }),
    };
  }

  /** One signature in a session of its own. */
  signMessage(payload: Buffer): Promise<Bundle> {
    return this.session().signMessage(payload);
  }

  /** One signature in a session of its own. */
  signStatement(statement: Buffer): Promise<Bundle> {
    return this.session().signStatement(statement);
  }

  private get fetchOptions() {
    return { timeout: this.timeoutMs, retry: { retries: 2, factor: 2, minTimeout: 250, maxTimeout: 2_000 } };
  }

  private fulcioOptions() {
    return {
      fulcioBaseURL: this.endpoints.fulcioUrl,
      identityProvider: {
        getToken: async () => {
          const token = await this.tokens.getToken();
          checkWorkloadToken(token);
          return token;
        },
      },
      ...this.fetchOptions,
    };
  }

  private async sign(
    signer: Signer,
    retryScope: string | undefined,
    builder: (options: ConstructorParameters<typeof MessageSignatureBundleBuilder>[0]) => MessageSignatureBundleBuilder | DSSEBundleBuilder,
    artifact: { data: Buffer; type?: string },
  ): Promise<Bundle> {
    const rekor = new RekorWitness({ rekorBaseURL: this.endpoints.rekorUrl, fetchOnConflict: true, majorApiVersion: 1, ...this.fetchOptions });
    const tsa = this.endpoints.tsaUrl ? new TSAWitness({ tsaBaseURL: this.endpoints.tsaUrl, ...this.fetchOptions }) : undefined;
    const attempt = this.unlogged.around(signer, retryScope);
    try {
      const bundle = await builder({ signer: attempt.signer, witnesses: [tsa ? new TimestampThenLogWitness(tsa, rekor) : rekor] }).create(artifact);
      attempt.settle('logged');
      return bundle;
    } catch (error) {
      const failure = toSigningStepError(error, (service) => this.retryAfter?.remainingMs(service));
      // A retry resubmits this signature rather than a new one: Rekor may have logged it already.
      attempt.settle(failure.transient ? 'retry' : 'abandon');
      throw failure;
    }
  }
}
