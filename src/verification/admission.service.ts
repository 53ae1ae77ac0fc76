import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { Caller } from '../access/caller';
import { assertRepositoryAllowed } from '../access/repository-access';
import { ProblemError } from '../common/problem';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { ReadinessChecks } from '../health/readiness-checks';
import { MetricsService } from '../metrics/metrics.service';
import { AdmissionPolicy, ADMISSION_POLICY_VARIABLE } from './admission-policy';
import { AdmissionPolicyFile, type PolicyFileChange } from './admission-policy-file';
import { type AdmissionReviewAnswer, AdmissionReviewError, type ImageJudgement, admissionAnswer, readAdmissionReview } from './admission-review';
import { ArtifactVerificationService } from './artifact-verification.service';
import { TrustRoots } from './trust-roots';

/** Images of one review verified at once: enough to hide registry latency, few enough to share the registry. */
const IMAGE_CONCURRENCY = 8;

/**
 * POST /v1/admission: judges the images of a Pod, a pod-template workload or a SpinApp against the
 * cluster's admission policy. Every failure about one image (not signed, registry unreachable, reference
 * unreadable) is a denial line for that image (fail closed), never a 5xx; a review that cannot be read
 * is a 400.
 *
 * The policy file is read at start (a bad file stops the process) and again whenever it changes
 * (AdmissionPolicyFile): each review is judged wholly by the policy in force when it arrived, and the
 * verdict cache keys on each rule's whole policy, so a changed rule never meets a verdict of the old one.
 */
@Injectable()
export class AdmissionService implements OnModuleDestroy {
  private readonly logger = new Logger('admission');
  /** Undefined when ADMISSION_POLICY_FILE is unset. */
  private readonly file: AdmissionPolicyFile | undefined;

  constructor(
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'verification'>,
    trustRoots: TrustRoots,
    private readonly verifications: ArtifactVerificationService,
    readiness: ReadinessChecks,
    private readonly metrics: MetricsService,
  ) {
    const path = config.verification.admissionPolicyFile;
    if (path === undefined) return;
    this.file = AdmissionPolicyFile.open(path, trustRoots.names);
    const { policy, sha256 } = this.file.current;
    this.logger.log({ file: path, sha256, patterns: policy.rules.map((rule) => rule.pattern) }, 'admission policy loaded');
    this.metrics.admissionPolicyRejected.set(0);
    this.file.watch(
      config.verification.admissionPolicyCheckIntervalSeconds * 1000,
      (change) => this.changed(change),
      (error) => this.logger.warn({ file: path, err: error.message }, 'admission policy file: cannot watch or check it; it is still read periodically'),
    );
    // Never down: the last good policy still answers. The details say which version is in force and
    // why the file on disk is not, so an operator sees a refused edit where the pod's status is looked at.
    readiness.register('admission-policy', () => Promise.resolve(this.readinessDetails()));
  }

  onModuleDestroy(): void {
    this.file?.close();
  }

  private changed(change: PolicyFileChange): void {
    const file = this.file!.path;
    if ('applied' in change) {
      const { policy, sha256 } = change.applied;
      this.metrics.admissionPolicyReloads.inc({ outcome: 'applied' });
      this.metrics.admissionPolicyRejected.set(0);
      this.logger.log({ file, sha256, patterns: policy.rules.map((rule) => rule.pattern) }, 'admission policy reloaded');
    } else {
      const { sha256, problems } = change.rejected;
      this.metrics.admissionPolicyReloads.inc({ outcome: 'rejected' });
      this.metrics.admissionPolicyRejected.set(1);
      this.logger.error({ file, sha256, problems, inForce: this.file!.current.sha256 }, 'admission policy file rejected; the last good policy stays in force');
    }
  }

  private readinessDetails(): Record<string, unknown> {
    const { policy, sha256, loadedAt } = this.file!.current;
    const rejection = this.file!.rejection;
    return {
      file: this.file!.path,
      inForce: { sha256, loadedAt: loadedAt.toISOString(), rules: policy.rules.length },
      ...(rejection
        ? { rejected: { sha256: rejection.sha256 ?? null, at: rejection.at.toISOString(), problems: rejection.problems, note: 'the last good policy stays in force' } }
        : {}),
    };
  }

  async review(body: unknown, caller: Caller): Promise<AdmissionReviewAnswer> {
    const policy = this.file?.current.policy;
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
      const { reference, repo, name, rule } = policy.read(image);
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
