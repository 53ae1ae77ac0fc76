import { Injectable } from '@nestjs/common';
import type { JobType, StepName } from '../database/database.types';
import { type CatalogueJobType, type JobStepOf, catalogueSteps } from './job-catalogue';
import type { RegisteredStepHandler, StepHandler } from './step-handler';

/** Where each capability registers the steps it runs; the workers look handlers up here. */
@Injectable()
export class StepHandlerRegistry {
  private readonly handlers = new Map<string, RegisteredStepHandler>();

  register<T extends CatalogueJobType, S extends JobStepOf<T>>(handler: StepHandler<T, S>): void;
  register(handler: RegisteredStepHandler): void {
    const key = `${handler.jobType}/${handler.step}`;
    if (this.handlers.has(key)) throw new Error(`a handler for ${key} is already registered`);
    this.handlers.set(key, handler);
  }

  find(jobType: JobType, step: StepName): RegisteredStepHandler | undefined {
    return this.handlers.get(`${jobType}/${step}`);
  }

  /** The steps of the catalogue that have no handler, in catalogue order. */
  missing(): { jobType: CatalogueJobType; step: StepName }[] {
    return catalogueSteps().filter(({ jobType, step }) => !this.handlers.has(`${jobType}/${step}`));
  }

  /**
   * Stops the start when a step of the catalogue has no handler: a job of that type would otherwise
   * wait in its queue, or fail, only once someone submits one.
   */
  assertComplete(): void {
    const missing = this.missing();
    if (missing.length === 0) return;
    throw new MissingStepHandlersError(missing.map(({ jobType, step }) => `no handler for step '${step}' of job type '${jobType}'`));
  }
}

export class MissingStepHandlersError extends Error {
  constructor(readonly missing: string[]) {
    super(`the job catalogue has steps no handler runs: ${missing.join('; ')}`);
    this.name = 'MissingStepHandlersError';
  }
}
