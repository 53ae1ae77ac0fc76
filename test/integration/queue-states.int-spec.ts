import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'bullmq';
import { workerRedisOptions } from '../../src/common/redis-connection';
import { ReadinessChecks } from '../../src/health/readiness-checks';
import { MetricsService } from '../../src/metrics/metrics.service';
import { PipelineQueues } from '../../src/pipeline/pipeline-queues.service';
import { readQueueState } from '../../src/pipeline/queue-states';
import { stepJobId } from '../../src/pipeline/step-queues';
import { type Integration, startIntegration } from './support/integration-env';

/** The queue gauges' figures read from BullMQ queues in Redis, for a pipeline that waits. */
describe('queue states (BullMQ in Redis)', () => {
  let it_: Integration;
  let queues: PipelineQueues;
  let metrics: MetricsService;
  let worker: Worker | undefined;

  beforeAll(async () => {
    it_ = await startIntegration();
    metrics = new MetricsService();
    queues = new PipelineQueues(it_.config, new ReadinessChecks(), metrics);
    queues.onModuleInit();
  });

  afterAll(async () => {
    await worker?.close();
    await queues?.onApplicationShutdown();
    await it_?.stop();
  });

  it('count the waiting step and date it from when it became ready: enqueued, then when the step before it finished', async () => {
    const jobId = randomUUID();
    const enqueuedAt = Date.now();
    await queues.enqueuePipeline(jobId, ['push', 'sign']);
    const push = queues.queues.get('push')!;
    const sign = queues.queues.get('sign')!;

    const first = await readQueueState(push, queues.queues);
    expect(first.counts).toMatchObject({ waiting: 1, active: 0 });
    expect(first.oldestWaitingSince).toBeGreaterThanOrEqual(enqueuedAt - 5);
    expect(first.oldestWaitingSince).toBeLessThanOrEqual(Date.now());
    expect((await readQueueState(sign, queues.queues)).counts).toMatchObject({ waiting: 0, 'waiting-children': 1 });

    const text = await metrics.registry.metrics();
    expect(text).toContain('wasm_signer_queue_jobs{queue="push",state="waiting"} 1');
    expect(text).toMatch(/wasm_signer_queue_oldest_waiting_age_seconds\{queue="push"\} [\d.]+/);

    // The push step runs half a second later; sign has waited only since push finished.
    await sleep(500);
    worker = new Worker('push', async () => undefined, { connection: workerRedisOptions(it_.config.redis.url), prefix: it_.config.queues.prefix });
    const pushJob = await (async () => {
      for (let i = 0; i < 100; i++) {
        const job = await push.getJob(stepJobId(jobId, 'push'));
        if (job?.finishedOn) return job;
        await sleep(50);
      }
      throw new Error('push step not finished');
    })();
    await worker.close();
    worker = undefined;

    const second = await readQueueState(sign, queues.queues);
    expect(second.counts).toMatchObject({ waiting: 1, 'waiting-children': 0 });
    expect(pushJob.finishedOn! - enqueuedAt).toBeGreaterThanOrEqual(500);
    expect(second.oldestWaitingSince).toBe(pushJob.finishedOn);
  });
});
