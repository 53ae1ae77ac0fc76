import { type Bundle, bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, type Signer } from '@sigstore/verify';
import type { TrustRootLoader } from './trust-root-loader';

/** Who must have signed: the certificate's identity (SAN) and the OIDC issuer extension. */
export interface IdentityPolicy {
  identity: string | RegExp;
  issuer: string;
}

/**
 * Verifies a Sigstore bundle with @sigstore/verify: certificate chain to the trusted Fulcio CA, SCT,
 * Rekor SET / inclusion, TSA timestamps, the signature over the artifact, then the identity policy.
 * Certificate validity is judged at the log's integrated time or the TSA time, never at "now".
 */
export class BundleVerifier {
  constructor(private readonly trustRoot: TrustRootLoader) {}

  async verify(bundle: Bundle, policy: IdentityPolicy, artifact?: Buffer): Promise<Signer> {
    const verifier = new Verifier(await this.trustRoot.trustMaterial(), { tlogThreshold: 1, ctlogThreshold: 1 });
    // Round-trip through JSON: the verifier expects a bundle as parsed from the wire.
    const parsed = bundleFromJSON(bundleToJSON(bundle));
    return verifier.verify(toSignedEntity(parsed, artifact), {
      subjectAlternativeName: policy.identity,
      extensions: { issuer: policy.issuer },
    });
  }
}
