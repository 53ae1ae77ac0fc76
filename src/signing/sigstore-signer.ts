import type { Bundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, type Signer, TSAWitness, type Witness } from '@sigstore/sign';
import type { SigningCertificateScope } from '../config/config.schema';
import type { IdentityTokenSource } from './identity/identity-providers';
import { checkWorkloadToken } from './identity/workload-token';
import { IN_TOTO_PAYLOAD_TYPE } from '../signature-formats/sigstore-bundle-referrer';
import type { SigningEndpoints } from '../sigstore/signing-endpoints';
import { FulcioSessionSigner } from './fulcio-session-signer';
import { toSigningStepError } from './sigstore-errors';

/** The signatures of one job step: with the `job` scope they share one ephemeral key and one Fulcio certificate. */
export interface SigningSession {
  /** A message-signature bundle over `payload` (hashedrekord entry): the cosign classic signature. */
  signMessage(payload: Buffer): Promise<Bundle>;
  /** A DSSE bundle over an in-toto statement (dsse entry): the cosign v3 bundle signature. */
  signStatement(statement: Buffer): Promise<Bundle>;
}

/**
 * Keyless signing through sigstore-js. Tokens from the identity source are checked before Fulcio sees
 * them. Signatures are made in sessions, one per job step: with the `job` certificate scope (the
 * default) a session fetches one token, makes one ephemeral key and gets one Fulcio certificate for all
 * its signatures (a new one when it would expire too soon, see FulcioSessionSigner); with `signature`
 * each signature gets its own token, key and certificate. Every signature gets its own entry in Rekor
 * (an existing identical entry, HTTP 409, is fetched and used) and a TSA timestamp when one is configured.
 */
export class SigstoreSigner {
  constructor(
    private readonly endpoints: SigningEndpoints,
    private readonly tokens: IdentityTokenSource,
    private readonly timeoutMs = 30_000,
    readonly certificateScope: SigningCertificateScope = 'job',
  ) {}

  /** A session for the signatures of one job step; drop it when the step ends (its key lives only in it). */
  session(): SigningSession {
    const fulcio = this.certificateScope === 'job' ? new FulcioSessionSigner(this.fulcioOptions()) : undefined;
    const signer = (): Signer => fulcio ?? new FulcioSigner(this.fulcioOptions());
    return {
      signMessage: (payload) => this.sign(signer(), (options) => new MessageSignatureBundleBuilder(options), { data: payload }),
      signStatement: (statement) => this.sign(signer(), (options) => new DSSEBundleBuilder(options), { data: statement, type: IN_TOTO_PAYLOAD_TYPE }),
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
    builder: (options: ConstructorParameters<typeof MessageSignatureBundleBuilder>[0]) => MessageSignatureBundleBuilder | DSSEBundleBuilder,
    artifact: { data: Buffer; type?: string },
  ): Promise<Bundle> {
    const witnesses: Witness[] = [new RekorWitness({ rekorBaseURL: this.endpoints.rekorUrl, fetchOnConflict: true, majorApiVersion: 1, ...this.fetchOptions })];
    if (this.endpoints.tsaUrl) witnesses.push(new TSAWitness({ tsaBaseURL: this.endpoints.tsaUrl, ...this.fetchOptions }));
    try {
      return await builder({ signer, witnesses }).create(artifact);
    } catch (error) {
      throw toSigningStepError(error);
    }
  }
}
