import { Injectable, Logger } from '@nestjs/common';
import { ProblemError } from '../common/problem';
import type { BundleVerificationRequestDto, BundleVerificationResultDto } from './bundle-verification.dto';
import { readArtifactInput, readTrustRootChoice } from './bundle-verification-request';
import { type VerificationOutcome, failedVerification } from '../sigstore/bundle-verifier';
import { BundleVerificationPool, VerificationBusyError, type VerificationTrust } from '../sigstore/bundle-verification-pool';
import { buildSignerPolicy } from './signer-policy-request';
import { TrustRootUnavailableError } from '../sigstore/trust-root-loader';
import { TrustRoots } from './trust-roots';
import { verificationBusy, verificationProblem } from './verification-errors';
import { parseTrustedRoot, trustMaterialOf } from '../sigstore/trusted-root';

/**
 * `POST /v1/verifications/bundle`: reads the request (a request that cannot be read is a 4xx problem),
 * then verifies; whether or not the bundle verifies is the answer, never an error.
 */
@Injectable()
export class BundleVerificationService {
  private readonly logger = new Logger('verification');

  constructor(
    private readonly trustRoots: TrustRoots,
    private readonly pool: BundleVerificationPool,
  ) {}

  async verify(request: BundleVerificationRequestDto): Promise<BundleVerificationResultDto> {
    const artifact = readArtifactInput(request);
    const policy = buildSignerPolicy(request.policy);
    const trust = await this.trustMaterial(request);
    const outcome = 'failure' in trust ? trust.failure : await this.pool.verify(request.bundle, { artifact, policy, trust }).catch(busyProblem);
    if (!outcome.verified) this.logger.log({ code: outcome.error.code, reason: outcome.error.message }, 'bundle did not verify');
    return { verified: outcome.verified, identity: outcome.identity, issuer: outcome.issuer, error: outcome.verified ? null : outcome.error };
  }

  /**
   * A configured root (unknown name: 422; cannot be loaded: 503), or the request's own trusted root, which
   * when malformed makes the verification fail (TRUSTED_ROOT_MALFORMED) like a malformed bundle does.
   */
  private async trustMaterial(request: BundleVerificationRequestDto): Promise<VerificationTrust | { failure: VerificationOutcome }> {
    const choice = readTrustRootChoice(request);
    if (choice.kind === 'inline') {
      try {
        const root = parseTrustedRoot(choice.document);
        return { name: 'inline', material: trustMaterialOf(root), root };
      } catch (error) {
        return { failure: failedVerification(error) };
      }
    }
    const loader = this.trustRoots.get(choice.name);
    try {
      const { material, root } = await loader.load();
      return { name: choice.name, material, root };
    } catch (error) {
      if (!(error instanceof TrustRootUnavailableError)) throw error;
      this.logger.warn({ trustRoot: choice.name, err: error }, 'trust root unavailable');
      throw new ProblemError(503, 'TRUST_ROOT_UNAVAILABLE', 'The trust root cannot be loaded', `trust root ${choice.name}: ${error.message}`, { trustRoot: choice.name });
    }
  }
}

/** The verification threads' queue is full: 503 with Retry-After; other errors pass unchanged. */
function busyProblem(error: unknown): never {
  throw error instanceof VerificationBusyError ? verificationProblem(verificationBusy(error)) : error;
}
