import { type Bundle, bundleToJSON } from '@sigstore/bundle';
import type { IdentityPolicy } from './bundle-verifier';
import { BundleVerificationPool } from './bundle-verification-pool';
import type { TrustRootLoader } from './trust-root-loader';
import { BundleVerificationError } from './verification-error';

/** Verifies the bundles this service signs against its `default` trust root (throws when they do not verify). */
export class OwnSignatureVerifier {
  constructor(
    private readonly trustRoot: TrustRootLoader,
    private readonly pool: BundleVerificationPool = new BundleVerificationPool(),
  ) {}

  /** The certificate's identity and issuer once the bundle verified. */
  async verify(bundle: Bundle, policy: IdentityPolicy, artifact?: Buffer): Promise<{ identity: string | null; issuer: string | null }> {
    const { material, root } = await this.trustRoot.load();
    const outcome = await this.pool.verify(bundleToJSON(bundle), {
      artifact: artifact ? { kind: 'bytes', bytes: artifact } : undefined,
      policy: {
        kind: 'certificate',
        identity: typeof policy.identity === 'string' ? { kind: 'exact', value: policy.identity } : { kind: 'regexp', source: policy.identity.source, regexp: policy.identity },
        issuer: { kind: 'exact', value: policy.issuer },
      },
      trust: { name: 'default', material, root },
    });
    if (!outcome.verified) throw new BundleVerificationError(outcome.error.code, outcome.error.message);
    return { identity: outcome.identity, issuer: outcome.issuer };
  }
}
