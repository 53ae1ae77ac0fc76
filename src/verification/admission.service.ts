import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Caller } from '../access/caller';
import { assertRepositoryAllowed } from '../access/repository-access';
import { ProblemError } from '../common/problem';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { canonicalRepositoryName, parseOciReference } from '../registry/oci-reference';
import { AdmissionPolicy, ADMISSION_POLICY_VARIABLE } from './admission-policy';
import { type AdmissionReviewAnswer, AdmissionReviewError, type ImageJudgement, admissionAnswer, normalizeImage, readAdmissionReview } from './admission-review';
import { ArtifactVerificationService } from './artifact-verification.service';
import { TrustRoots } from './trust-roots';

/** Images of one review verified at once: enough to hide registry latency, few enough to share the registry. */
const IMAGE_CONCURRENCY = 8;

/**
 * POST /v1/admission: judges the images of a Pod or SpinApp against the cluster's admission policy.
 * Every failure about one image (not signed, registry unreachable, reference unreadable) is a denial line
 * for that image (fail closed), never a 5xx; a review that cannot be read is a 400.
 */
@Injectable()
export class AdmissionService {
  private readonly logger = new Logger('admission');
  /** Read at start: a bad file stops the process (ConfigError); undefined when ADMISSION_POLICY_FILE is unset. */
  private readonly policy: AdmissionPolicy | undefined;

  constructor(
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'verification'>,
    trustRoots: TrustRoots,
    private readonly verifications: ArtifactVerificationService,
  ) {
    const file = config.verification.admissionPolicyFile;
    this.policy = file === undefined ? undefined : AdmissionPolicy.read(file, trustRoots.names);
    if (this.policy) this.logger.log({ file, patterns: this.policy.rules.map((rule) => rule.pattern) }, 'admission policy loaded');
  }

  async review(body: unknown, caller: Caller): Promise<AdmissionReviewAnswer> {
    const policy = this.policy;
    if (!policy) {
      throw new ProblemError(
        503,
        'ADMISSION_POLICY_MISSING',
        'No admission policy is configured',
        `${ADMISSION_POLICY_VARIABLE} is not set: this service cannot judge workloads, so every review is refused until it is`,
      );
    }
    let subject;
    try {
      subject = readAdmissionReview(body);
    } catch (error) {
      if (!(error instanceof AdmissionReviewError)) throw error;
      throw new ProblemError(400, error.code, 'The admission review is not valid', error.message);
    }
    const images = subject.images ?? [];
    const judgements = await mapBounded(images, IMAGE_CONCURRENCY, (image) => this.judge(image, policy, caller));
    const answer = admissionAnswer(subject.uid, judgements);
    this.logger.log({ uid: subject.uid, kind: subject.kind, images: images.length, allowed: answer.response.allowed }, 'admission review answered');
    return answer;
  }

  private async judge(image: string, policy: AdmissionPolicy, caller: Caller): Promise<ImageJudgement> {
    try {
      const reference = parseOciReference(normalizeImage(image));
      const repo = { registry: reference.registry, repository: reference.repository };
      const name = canonicalRepositoryName(repo);
      const rule = policy.ruleFor(name);
      if (!rule) return { image, warning: `${image}: no admission policy pattern covers ${name}; admitted without verification` };
      // The service reads the registry with its own credentials: only for repositories the caller may use.
      assertRepositoryAllowed(caller, name);
      const digest = reference.digest ?? (await this.verifications.resolveTag(repo, reference));
      const verdict = await this.verifications.verifyDigest(repo, digest, rule.policy, rule.trustRoot);
      const warning = reference.digest ? undefined : `${image} is ${repo.registry}/${repo.repository}@${digest}`;
      if (verdict.verified) return { image, ...(warning ? { warning } : {}) };
      const error = verdict.error ?? { code: 'NOT_VERIFIED', message: `${digest} does not satisfy the policy of ${rule.pattern}` };
      return { image, denial: { code: error.code, message: `${error.message} (${digest})` }, ...(warning ? { warning } : {}) };
    } catch (error) {
      const coded = error as { code?: unknown; detail?: unknown; message?: string };
      const code = typeof coded.code === 'string' ? coded.code : 'VERIFICATION_FAILED';
      const message = typeof coded.detail === 'string' ? coded.detail : (coded.message ?? String(error));
      return { image, denial: { code, message } };
    }
  }
}

/** Runs fn over items, at most `limit` at once, keeping the order of items. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
