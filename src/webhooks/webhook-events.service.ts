import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import type { JobRow, StepName, VerificationRow } from '../database/database.types';
import { JobDto } from '../pipeline/job.dto';
import { type JobObserver, JobObservers } from '../pipeline/job-observers';
import { GroupCommit } from '../database/group-commit';
import { WebhookQueue } from './webhook-queue.service';
import type { WebhookEvent, WebhookRow } from './webhook-tables';
import { WebhooksRepository } from './webhooks.repository';

/** The events one job state gives rise to, after `step` ran (succeeded or failed for good). */
export function eventsFor(job: JobRow, step: StepName): WebhookEvent[] {
  const events: WebhookEvent[] = [];
  const result = job.result ?? {};
  const signatures = result.signatures;
  if (step === 'sign' && job.steps.find((s) => s.name === 'sign')?.state === 'succeeded' && Array.isArray(signatures) && signatures.length > 0) {
    events.push('signature.created');
  }
  const verification = (result.verification ?? (job.type === 'verify' ? result : undefined)) as { verified?: unknown } | undefined;
  const verifyStepFailed = job.state === 'failed' && job.error?.step === 'verify';
  if ((step === 'verify' && verification?.verified === false) || verifyStepFailed) events.push('verification.failed');
  else if (step === 'verify' && verification?.verified === true) events.push('verification.succeeded');
  if (job.state === 'succeeded') events.push('job.succeeded');
  if (job.state === 'failed') events.push('job.failed');
  return events;
}

/**
 * A stable delivery id (`webhook-id`) for one event of one job (or one synchronous verification) to one
 * target, so emitting twice delivers once.
 */
export function deliveryId(sourceId: string, event: WebhookEvent, target: string): string {
  return `msg_${createHash('sha256').update(`${sourceId}\n${event}\n${target}`).digest('base64url').slice(0, 27)}`;
}

/** The event of a recorded verification's verdict. */
export const verificationEvent = (verification: Pick<VerificationRow, 'verified'>): WebhookEvent => (verification.verified ? 'verification.succeeded' : 'verification.failed');

/**
 * Turns job state changes into deliveries: a record per matching subscription (and the job's
 * callbackUrl for job.succeeded/job.failed) written before its queue job, so none is lost. A job
 * observer: the pipeline tells it each step's end.
 */
@Injectable()
export class WebhookEvents implements JobObserver, OnModuleInit {
  private readonly logger = new Logger('webhooks');
  /**
   * The subscribers of the verifications answered at once: the lookups of concurrent verifications go to
   * the database together, one query per distinct event and caller, each sent after every verification
   * it answers was recorded (so none misses a subscription made before it).
   */
  private readonly verificationSubscribers = new GroupCommit<{ event: WebhookEvent; caller: string | null }, WebhookRow[]>({
    writeBatch: (lookups) => this.subscribersOf(lookups),
    maxRows: 256,
    maxInFlight: 2,
  });

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: WebhooksRepository,
    private readonly queue: WebhookQueue,
    private readonly observers: JobObservers,
  ) {}

  onModuleInit(): void {
    this.observers.register(this);
  }

  async afterStep(job: JobRow, step: StepName): Promise<void> {
    const events = eventsFor(job, step);
    if (events.length === 0) return;
    // One query for the subscribers of all of this step's events; nothing is serialised for no one.
    const subscribers = await this.repository.subscribersToAny(events, job.caller);
    for (const event of events) await this.emit(job, event, subscribers);
  }

  /**
   * A verification answered at once (no job): verification.succeeded or verification.failed to the
   * subscribers, with the record as `data.verification`. Verify jobs emit through afterStep instead.
   */
  async afterVerification(verification: VerificationRow, view: Record<string, unknown>): Promise<void> {
    const event = verificationEvent(verification);
    const payload = JSON.stringify({ type: event, timestamp: verification.created_at.toISOString(), data: { verification: view } });
    const ids: string[] = [];
    for (const subscription of await this.verificationSubscribers.add({ event, caller: verification.caller })) {
      const id = deliveryId(verification.id, event, subscription.id);
      await this.repository.insertDelivery({ id, webhookId: subscription.id, callbackUrl: null, jobId: null, verificationId: verification.id, event, payload });
      ids.push(id);
    }
    for (const id of ids) await this.queue.enqueue(id);
  }

  /** One query per distinct (event, caller) among the lookups; each lookup gets its query's rows. */
  private async subscribersOf(lookups: { event: WebhookEvent; caller: string | null }[]): Promise<WebhookRow[][]> {
    const keyOf = (lookup: { event: WebhookEvent; caller: string | null }) => `${lookup.event}\n${lookup.caller ?? ''}\n${lookup.caller === null}`;
    const queries = new Map<string, Promise<WebhookRow[]>>();
    for (const lookup of lookups) {
      const key = keyOf(lookup);
      if (!queries.has(key)) queries.set(key, this.repository.subscribersTo(lookup.event, lookup.caller));
    }
    return Promise.all(lookups.map((lookup) => queries.get(keyOf(lookup))!));
  }

  private async emit(job: JobRow, event: WebhookEvent, subscribers: WebhookRow[]): Promise<void> {
    const subscriptions = subscribers.filter((subscription) => subscription.events.includes(event));
    const callback = job.callback_url && (event === 'job.succeeded' || event === 'job.failed');
    if (subscriptions.length === 0 && !callback) return;
    const payload = JSON.stringify({ type: event, timestamp: (job.finished_at ?? job.updated_at).toISOString(), data: { job: JobDto.from(job) } });
    const ids: string[] = [];
    for (const subscription of subscriptions) {
      const id = deliveryId(job.id, event, subscription.id);
      await this.repository.insertDelivery({ id, webhookId: subscription.id, callbackUrl: null, jobId: job.id, event, payload });
      ids.push(id);
    }
    if (callback && job.callback_url) {
      if (this.config.webhooks.callbackSecret) {
        const id = deliveryId(job.id, event, job.callback_url);
        await this.repository.insertDelivery({ id, webhookId: null, callbackUrl: job.callback_url, jobId: job.id, event, payload });
        ids.push(id);
      } else {
        this.logger.warn({ jobId: job.id }, 'job has a callbackUrl but WEBHOOK_CALLBACK_SECRET is not set: not notified');
      }
    }
    for (const id of ids) await this.queue.enqueue(id);
  }
}
