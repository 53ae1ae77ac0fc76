import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { FlowProducer, type FlowJob, Queue, type JobsOptions } from 'bullmq';
import IORedis from 'ioredis';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import type { StepName } from '../database/database.types';
import { connected, endSharedConnection, producerRedisOptions } from '../common/redis-connection';
import { ReadinessChecks } from '../health/readiness-checks';
import { MetricsService } from '../metrics/metrics.service';
import { cachedQueueStates, readQueueState } from './queue-states';
import { STEP_QUEUES, stepJobId, type StepJobData } from './step-queues';

/** Scrapes within this long of a read of the queue gauges get the same figures. */
const QUEUE_STATE_MAX_AGE_MS = 5_000;
/** A scrape waits at most this long for the queue gauges (Redis slow or down: they are left out). */
const QUEUE_STATE_TIMEOUT_MS = 2_000;

/**
 * The producer side of the queues: adds pipelines as BullMQ flows and exposes the queues to health
 * checks and the dashboard. One Redis connection, failing fast when Redis is down.
 */
@Injectable()
export class PipelineQueues implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('queues');
  private opened: { connection: IORedis; queues: ReadonlyMap<StepName, Queue>; flows: FlowProducer } | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly readiness: ReadinessChecks,
    private readonly metrics: MetricsService,
  ) {}

  /** Readiness depends on Redis answering this connection; the queue gauges are read through it. */
  onModuleInit(): void {
    this.readiness.register('redis', () => this.ping());
    this.metrics.queueStates = cachedQueueStates(() => Promise.all([...this.queues.values()].map((queue) => readQueueState(queue, this.queues))), {
      maxAgeMs: QUEUE_STATE_MAX_AGE_MS,
      timeoutMs: QUEUE_STATE_TIMEOUT_MS,
      onError: (error) => this.logger.debug({ error: (error as Error).message }, 'queue gauges not read'),
    });
  }

  /**
   * The connection and queues, made at start or on first use: an application that is built but never
   * started (the OpenAPI writer) never connects, and so never races its own shutdown.
   */
  private open() {
    if (this.opened) return this.opened;
    const connection = new IORedis(producerRedisOptions(this.config.redis.url));
    connection.on('error', (error) => this.logger.debug({ error: error.message }, 'Redis connection error'));
    const queueOptions = { connection, prefix: this.config.queues.prefix, defaultJobOptions: this.defaultJobOptions() };
    const queues = new Map(STEP_QUEUES.map((name) => [name, new Queue<StepJobData>(name, queueOptions)]));
    const flows = new FlowProducer({ connection, prefix: this.config.queues.prefix });
    // Connection errors surface on the calls that need Redis (a 503 to the caller) and in readiness;
    // unobserved 'error' events would otherwise crash the process.
    const ignore = (error: Error) => this.logger.debug({ error: error.message }, 'queue connection error');
    for (const queue of queues.values()) queue.on('error', ignore);
    flows.on('error', ignore);
    this.opened = { connection, queues, flows };
    return this.opened;
  }

  /** A running service connects at start, so the first request does not wait for the handshake. */
  onApplicationBootstrap(): void {
    this.open();
  }

  get queues(): ReadonlyMap<StepName, Queue> {
    return this.open().queues;
  }

  /** Retention and retry policy shared by every step job. */
  defaultJobOptions(): JobsOptions {
    const q = this.config.queues;
    return {
      attempts: q.stepMaxAttempts,
      backoff: { type: 'retry-policy' },
      removeOnComplete: { age: q.completedRetentionSeconds, count: q.completedRetentionCount },
      removeOnFail: { age: q.failedRetentionSeconds, count: q.failedRetentionCount },
    };
  }

  /**
   * Enqueues a pipeline: `steps` run in order, each on its own queue. Built as a BullMQ flow whose
   * root is the last step, each step the parent of the one before it; a step that fails for good fails
   * the steps after it. Job IDs are derived from the job, so enqueuing the same job twice is harmless.
   */
  async enqueuePipeline(jobId: string, steps: readonly StepName[]): Promise<void> {
    if (steps.length === 0) throw new Error('a pipeline needs at least one step');
    let flow: FlowJob | undefined;
    for (const step of steps) {
      const node: FlowJob = {
        name: step,
        queueName: step,
        data: { jobId, step } satisfies StepJobData,
        opts: { ...this.defaultJobOptions(), jobId: stepJobId(jobId, step), failParentOnFailure: true },
        children: flow ? [flow] : undefined,
      };
      flow = node;
    }
    await this.open().flows.add(flow!);
  }

  /** The state of one step's queue entry; 'unknown' when Redis has no such entry. */
  async stepState(jobId: string, step: StepName): Promise<string> {
    const queue = this.open().queues.get(step);
    if (!queue) return 'unknown';
    await connected(this.open().connection);
    return queue.getJobState(stepJobId(jobId, step));
  }

  async ping(): Promise<void> {
    await (await connected(this.open().connection)).ping();
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.opened) return;
    const { connection, queues, flows } = this.opened;
    await endSharedConnection(connection);
    await Promise.allSettled([...[...queues.values()].map((q) => q.close()), flows.close()]);
  }
}
