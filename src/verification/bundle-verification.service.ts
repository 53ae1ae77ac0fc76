import { cpuTurns } from '../common/cpu-turns';
import { Injectable, Logger } from '@nestjs/common';
import type { TrustMaterial } from '@sigstore/verify';
import { ProblemError } from '../common/problem';
import type { BundleVerificationRequestDto, BundleVerificationResultDto } from './bundle-verification.dto';
import { readArtifactInput, readTrustRootChoice } from './bundle-verification-request';
import { type VerificationOutcome, failedVerification, verifyBundleDocument } from '../sigstore/bundle-verifier';
import { buildSignerPolicy } from './signer-policy-request';
import { TrustRootUnavailableError } from '../sigstore/trust-root-loader';
import { TrustRoots } from './trust-roots';
import { parseTrustedRoot, trustMaterialOf } from '../sigstore/trusted-root';

/**
 * `POST /v1/verifications/bundle`: reads the request (a request that cannot be read is a 4xx problem),
 * then verifies; whether or not the bundle verifies is the answer, never an error.
 */
@Injectable()
export class BundleVerificationService {
  private readonly logger = new Logger('verification');

  constructor(private readonly trustRoots: TrustRoots) {}

  async verify(request: BundleVerificationRequestDto): Promise<BundleVerificationResultDto> {
    const artifact = readArtifactInput(request);
    const policy = buildSignerPolicy(request.policy);
    const trust = await this.trustMaterial(request);
    const outcome = 'failure' in trust ? trust.failure : await cpuTurns.run(() => verifyBundleDocument(request.bundle, { artifact, policy, trustMaterial: trust.material }));
    if (!outcome.verified) this.logger.log({ code: outcome.error.code, reason: outcome.error.message }, 'bundle did not verify');
    return { verified: outcome.verified, identity: outcome.identity, issuer: outcome.issuer, error: outcome.verified ? null : outcome.error };
  }

  /**
   * A configured root (unknown name: 422; cannot be loaded: 503), or the request's own trusted root, which
   * when malformed makes the verification fail (TRUSTED_ROOT_MALFORMED) like a malformed bundle does.
   */
  private async trustMaterial(request: BundleVerificationRequestDto): Promise<{ material: TrustMaterial } | { failure: VerificationOutcome }> {
    const choice = readTrustRootChoice(request);
    if (choice.kind === 'inline') {
      try {
        return { material: trustMaterialOf(parseTrustedRoot(choice.document)) };
      } catch (error) {
        return { failure: failedVerification(error) };
      }
    }
    const loader = this.trustRoots.get(choice.name);
    try {
      return { material: await loader.trustMaterial() };
    } catch (error) {
      if (!(error instanceof TrustRootUnavailableError)) throw error;
      this.logger.warn({ trustRoot: choice.name, err: error }, 'trust root unavailable');
      throw new ProblemError(503, 'TRUST_ROOT_UNAVAILABLE', 'The trust root cannot be loaded', `trust root ${choice.name}: ${error.message}`, { trustRoot: choice.name });
    }
  }
}
