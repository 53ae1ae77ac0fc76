import { Global, Module } from '@nestjs/common';
import { CallbackUrlPolicy } from './callback-url-policy';
import { JobsController } from './jobs.controller';
import { JobsRepository } from './jobs.repository';
import { JobObservers } from './job-observers';
import { JobsService } from './jobs.service';
import { PipelineQueues } from './pipeline-queues.service';
import { PipelineWorkers } from './pipeline-workers.service';
import { StepHandlerRegistry } from './step-handler.registry';
import { UnqueuedJobsSweeper } from './unqueued-jobs-sweeper';
import { VerdictInvalidations } from './verdict-invalidations';
import { JobChanges } from './job-changes';

/** Queues, job records, the step-handler registry, the job observers and verdict invalidations: shared by every role. */
@Global()
@Module({
  providers: [JobsRepository, JobsService, PipelineQueues, StepHandlerRegistry, JobObservers, CallbackUrlPolicy, VerdictInvalidations, JobChanges],
  exports: [JobsRepository, JobsService, PipelineQueues, StepHandlerRegistry, JobObservers, CallbackUrlPolicy, VerdictInvalidations, JobChanges],
})
export class PipelineModule {}

/** The job status API (api role). */
@Module({ controllers: [JobsController] })
export class PipelineApiModule {}

/** The queue workers, and the sweeper that enqueues jobs recorded but never enqueued (worker role). */
@Module({ providers: [PipelineWorkers, UnqueuedJobsSweeper] })
export class PipelineWorkerModule {}
