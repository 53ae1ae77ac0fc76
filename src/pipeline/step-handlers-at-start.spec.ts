import { JobChanges } from './job-changes';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { APP_CONFIG } from '../config/config.module';
import { MetricsService } from '../metrics/metrics.service';
import { catalogueSteps } from './job-catalogue';
import { JobObservers } from './job-observers';
import { JobsRepository } from './jobs.repository';
import { PipelineWorkers } from './pipeline-workers.service';
import { StepHandlerRegistry } from './step-handler.registry';

const LEFT_OUT = Symbol('LEFT_OUT');

/** Registers a handler for every step of the catalogue but the ones named, as feature modules do in onModuleInit. */
@Injectable()
class CatalogueHandlers implements OnModuleInit {
  constructor(
    private readonly registry: StepHandlerRegistry,
    @Inject(LEFT_OUT) private readonly leftOut: string[],
  ) {}

  onModuleInit(): void {
    for (const { jobType, step } of catalogueSteps()) {
      if (this.leftOut.includes(`${jobType}/${step}`)) continue;
      this.registry.register({ jobType, step, run: async () => ({}) } as never);
    }
  }
}

/** The worker role's pipeline with the catalogue's handlers, `leftOut` excepted; Redis and the database are never reached. */
async function startWorkers(leftOut: string[]) {
  const module = await Test.createTestingModule({
    providers: [
      PipelineWorkers,
      StepHandlerRegistry,
      JobObservers,
      CatalogueHandlers,
      { provide: LEFT_OUT, useValue: leftOut },
      {
        provide: APP_CONFIG,
        useValue: {
          instanceId: 'test',
          redis: { url: 'redis://127.0.0.1:1' },
          queues: { prefix: 'never', workerConcurrency: 1, lockDurationMs: 30_000 },
          shutdownTimeoutMs: 1_000,
        },
      },
      { provide: JobsRepository, useValue: {} },
      { provide: MetricsService, useValue: {} },
      { provide: JobChanges, useValue: {} },
    ],
  }).compile();
  return module.init();
}

describe('the start-up check of the job catalogue', () => {
  it('stops the start when a step has no handler, naming the job type and step', async () => {
    await expect(startWorkers(['sign/verify'])).rejects.toThrow("no handler for step 'verify' of job type 'sign'");
  });

  it('names every missing handler at once', async () => {
    const failure = await startWorkers(['publish/push', 'probe/notify']).catch((error: Error) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toContain("no handler for step 'push' of job type 'publish'");
    expect((failure as Error).message).toContain("no handler for step 'notify' of job type 'probe'");
  });
});
