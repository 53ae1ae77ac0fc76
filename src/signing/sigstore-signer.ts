import type { Bundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, TSAWitness, type Witness } from '@sigstore/sign';
import type { IdentityTokenSource } from './identity/identity-providers';
import { checkWorkloadToken } from './identity/workload-token';
import { IN_TOTO_PAYLOAD_TYPE } from '../signature-formats/sigstore-bundle-referrer';
import type { SigningEndpoints } from '../sigstore/signing-endpoints';
import { toSigningStepError } from './sigstore-errors';

/**
 * Keyless signing through sigstore-js. Every signature gets a fresh token from the identity source
 * (checked before Fulcio sees it), a fresh ephemeral key and its own Fulcio certificate, an entry in
 * Rekor (an existing identical entry, HTTP 409, is fetched and used), and a TSA timestamp when one is
 * configured.
 */
export class SigstoreSigner {
  constructor(
    private readonly endpoints: SigningEndpoints,
    private readonly tokens: IdentityTokenSource,
    private readonly timeoutMs = 30_000,
  ) {}

  /** A message-signature bundle over `payload` (hashedrekord entry): the cosign classic signature. */
  signMessage(payload: Buffer): Promise<Bundle> {
    return this.sign((options) => new MessageSignatureBundleBuilder(options), { data: payload });
  }

  /** A DSSE bundle over an in-toto statement (dsse entry): the cosign v3 bundle signature. */
  signStatement(statement: Buffer): Promise<Bundle> {
    return this.sign((options) => new DSSEBundleBuilder(options), { data: statement, type: IN_TOTO_PAYLOAD_TYPE });
  }

  private async sign(
    builder: (options: ConstructorParameters<typeof MessageSignatureBundleBuilder>[0]) => MessageSignatureBundleBuilder | DSSEBundleBuilder,
    artifact: { data: Buffer; type?: string },
  ): Promise<Bundle> {
    const fetchOptions = { timeout: this.timeoutMs, retry: { retries: 2, factor: 2, minTimeout: 250, maxTimeout: 2_000 } };
    const signer = new FulcioSigner({
      fulcioBaseURL: this.endpoints.fulcioUrl,
      identityProvider: {
        getToken: async () => {
          const token = await this.tokens.getToken();
          checkWorkloadToken(token);
          return token;
        },
      },
      ...fetchOptions,
    });
    const witnesses: Witness[] = [new RekorWitness({ rekorBaseURL: this.endpoints.rekorUrl, fetchOnConflict: true, majorApiVersion: 1, ...fetchOptions })];
    if (this.endpoints.tsaUrl) witnesses.push(new TSAWitness({ tsaBaseURL: this.endpoints.tsaUrl, ...fetchOptions }));
    try {
      return await builder({ signer, witnesses }).create(artifact);
    } catch (error) {
      throw toSigningStepError(error);
    }
  }
}
