import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

  readonly jobsReenqueued = new Counter({
    name: 'jobs_reenqueued_total',
    help: 'Jobs recorded but never enqueued (their producer died or lost Redis in between) that the sweeper enqueued, by type',
    labelNames: ['type'] as const,
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

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
