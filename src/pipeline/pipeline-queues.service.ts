import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { FlowProducer, type FlowJob, Queue, type JobsOptions } from 'bullmq';
import IORedis from 'ioredis';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import type { StepName } from '../database/database.types';
import { endSharedConnection, producerRedisOptions } from './redis-connection';
import { STEP_QUEUES, stepJobId, type StepJobData } from './step-queues';

/**
 * The producer side of the queues: adds pipelines as BullMQ flows and exposes the queues to health
 * checks and the dashboard. One Redis connection, failing fast when Redis is down.
 */
@Injectable()
export class PipelineQueues implements OnApplicationShutdown {
  private readonly logger = new Logger('queues');
  readonly connection: IORedis;
  readonly queues: ReadonlyMap<StepName, Queue>;
  private readonly flows: FlowProducer;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    // Connects lazily, on the first command, so building the app (for example to write the OpenAPI
    // document) needs no Redis.
    this.connection = new IORedis(producerRedisOptions(config.redis.url));
    this.connection.on('error', (error) => this.logger.debug({ error: error.message }, 'Redis connection error'));
    const queueOptions = { connection: this.connection, prefix: config.queues.prefix, defaultJobOptions: this.defaultJobOptions() };
    this.queues = new Map(STEP_QUEUES.map((name) => [name, new Queue<StepJobData>(name, queueOptions)]));
    this.flows = new FlowProducer({ connection: this.connection, prefix: config.queues.prefix });
    // Connection errors surface on the calls that need Redis (a 503 to the caller) and in readiness;
    // unobserved 'error' events would otherwise crash the process.
    const ignore = (error: Error) => this.logger.debug({ error: error.message }, 'queue connection error');
    for (const queue of this.queues.values()) queue.on('error', ignore);
    this.flows.on('error', ignore);
  }

  /** Retention and retry policy shared by every step job. */
  defaultJobOptions(): JobsOptions {
    const q = this.config.queues;
    return {
      attempts: 8,
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
    await this.flows.add(flow!);
  }

  async ping(): Promise<void> {
    if (this.connection.status === 'wait') await this.connection.connect().catch(() => undefined);
    await this.connection.ping();
  }

  async onApplicationShutdown(): Promise<void> {
    await endSharedConnection(this.connection);
    await Promise.allSettled([...[...this.queues.values()].map((q) => q.close()), this.flows.close()]);
  }
}
