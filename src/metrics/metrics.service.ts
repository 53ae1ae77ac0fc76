import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One queue's state for the queue gauges: job counts by state, and since when (epoch ms) its first job in line waits. */
export interface QueueState {
  queue: string;
  counts: Record<string, number>;
  oldestWaitingSince: number | null;
}

/** The Prometheus registry of this process and the metrics every capability shares. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly stepDuration = new Histogram({
    name: 'pipeline_step_duration_seconds',
    help: 'Duration of pipeline step attempts by step and outcome',
    labelNames: ['step', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  readonly jobsCreated = new Counter({
    name: 'jobs_created_total',
    help: 'Jobs accepted through the API, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly stepsPostponed = new Counter({
    name: 'wasm_signer_pipeline_steps_postponed_total',
    help: 'Step runs put back in their queue without using an attempt, by step and reason (database_unavailable, database_storage_full)',
    labelNames: ['step', 'reason'] as const,
    registers: [this.registry],
  });

  readonly jobsReenqueued = new Counter({
    name: 'jobs_reenqueued_total',
    help: 'Jobs the sweeper enqueued, by type and reason: never_enqueued (their producer died or lost Redis between recording and enqueueing) or queue_entry_lost (Redis lost the queue entry of their current step)',
    labelNames: ['type', 'reason'] as const,
    registers: [this.registry],
  });

  readonly verificationCache = new Counter({
    name: 'wasm_signer_verification_cache_total',
    help: 'Verifications (POST /v1/verifications and verify jobs) answered from the verdict cache (hit) or checked live (miss)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly admissionPolicyReloads = new Counter({
    name: 'wasm_signer_admission_policy_reloads_total',
    help: 'Changed versions of ADMISSION_POLICY_FILE read while running: applied, or rejected (the last good policy stays in force)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly admissionPolicyRejected = new Gauge({
    name: 'wasm_signer_admission_policy_rejected',
    help: '1 while ADMISSION_POLICY_FILE holds a version that was rejected and the last good admission policy answers instead; 0 otherwise',
    registers: [this.registry],
  });

  readonly jobsFinished = new Counter({
    name: 'wasm_signer_jobs_finished_total',
    help: 'Jobs that reached a final state, by type and outcome (succeeded, failed), counted by the worker that finished them',
    labelNames: ['type', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly sigstoreRequestDuration = new Histogram({
    name: 'wasm_signer_sigstore_request_duration_seconds',
    help: 'HTTP requests to Fulcio, Rekor and the timestamp authority (each attempt, retries included), by service, method and status code ("error": no answer)',
    labelNames: ['service', 'method', 'status'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly registryRequestDuration = new Histogram({
    name: 'wasm_signer_registry_request_duration_seconds',
    help: 'HTTP requests to OCI registries (each request, token requests and redirects included) until the answer\'s headers, by method and status code ("error": no answer)',
    labelNames: ['method', 'status'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'wasm_signer_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome: delivered, retrying (failed attempt, another follows), failed (last attempt failed, or the secret does not open), refused (target not allowed), abandoned (subscription disabled, receiver answered 410 Gone, no callback secret)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  /**
   * The step queues' state, read at each scrape by both queue gauges (set by the pipeline, which caches
   * it: the two gauges of one scrape share one read; it never rejects).
   */
  queueStates: () => Promise<QueueState[]> = () => Promise.resolve([]);

  readonly queueJobs: Gauge = new Gauge({
    name: 'wasm_signer_queue_jobs',
    help: 'Step jobs in each pipeline queue by state (waiting, prioritized, active, delayed, waiting-children, paused), read from Redis at most every few seconds; absent while Redis does not answer',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
    collect: async (): Promise<void> => {
      const states = await this.queueStates();
      this.queueJobs.reset();
      for (const { queue, counts } of states) for (const [state, count] of Object.entries(counts)) this.queueJobs.set({ queue, state }, count);
    },
  });

  readonly queueOldestWaitingAge: Gauge = new Gauge({
    name: 'wasm_signer_queue_oldest_waiting_age_seconds',
    help: 'Seconds the first step job in line in each pipeline queue has been waiting for a worker (since it became ready to run); 0 when none waits; absent while Redis does not answer',
    labelNames: ['queue'] as const,
    registers: [this.registry],
    collect: async (): Promise<void> => {
      const states = await this.queueStates();
      this.queueOldestWaitingAge.reset();
      for (const { queue, oldestWaitingSince } of states) {
        this.queueOldestWaitingAge.set({ queue }, oldestWaitingSince === null ? 0 : Math.max(0, (Date.now() - oldestWaitingSince) / 1000));
      }
    },
  });

  /** The verification thread pool's state, read at each scrape (set by the trust module). */
  verificationPoolState: () => { threads: number; queued: number } = () => ({ threads: 0, queued: 0 });

  readonly verificationThreads: Gauge = new Gauge({
    name: 'wasm_signer_verification_threads',
    help: 'Worker threads running Sigstore bundle verification in this process (0: verification runs on the event loop)',
    registers: [this.registry],
    collect: (): void => this.verificationThreads.set(this.verificationPoolState().threads),
  });

  readonly verificationQueueDepth: Gauge = new Gauge({
    name: 'wasm_signer_verification_queue_depth',
    help: 'Bundle verifications waiting for a verification thread in this process',
    registers: [this.registry],
    collect: (): void => this.verificationQueueDepth.set(this.verificationPoolState().queued),
  });

  readonly verificationThreadFailures = new Counter({
    name: 'wasm_signer_verification_thread_failures_total',
    help: 'Verification threads that died or were stopped on a bundle (out of memory, crash, VERIFICATION_THREAD_TIMEOUT_MS) and were replaced',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** The TUF trust roots' state, read at each scrape (set by the trust module). */
  trustRootStates: () => Array<{ name: string; stale: boolean; ageSeconds: number | null }> = () => [];

  readonly trustRootStale = new Gauge({
    name: 'wasm_signer_trust_root_stale',
    help: '1 while a trust root fetched through TUF (public-good) could not be confirmed by TUF and the last good copy (or the one embedded in @sigstore/tuf) is used; 0 when fresh',
    labelNames: ['trust_root'] as const,
    registers: [this.registry],
    collect: () => {
      this.trustRootStale.reset();
      for (const { name, stale } of this.trustRootStates()) this.trustRootStale.set({ trust_root: name }, stale ? 1 : 0);
    },
  });

  readonly trustRootAge = new Gauge({
    name: 'wasm_signer_trust_root_age_seconds',
    help: 'Seconds since the trust root in use was fetched through TUF (absent while it is the copy embedded in @sigstore/tuf, whose age is unknown)',
    labelNames: ['trust_root'] as const,
    registers: [this.registry],
    collect: () => {
      this.trustRootAge.reset();
      for (const { name, ageSeconds } of this.trustRootStates()) if (ageSeconds !== null) this.trustRootAge.set({ trust_root: name }, ageSeconds);
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
