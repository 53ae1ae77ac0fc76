import { Injectable } from '@nestjs/common';
import type { JobType, StepName } from '../database/database.types';
import type { StepHandler } from './step-handler';

/** Where each capability registers the steps it runs; the workers look handlers up here. */
@Injectable()
export class StepHandlerRegistry {
  private readonly handlers = new Map<string, StepHandler>();

  register(handler: StepHandler): void {
    const key = `${handler.jobType}/${handler.step}`;
    if (this.handlers.has(key)) throw new Error(`a handler for ${key} is already registered`);
    this.handlers.set(key, handler);
  }

  find(jobType: JobType, step: StepName): StepHandler | undefined {
    return this.handlers.get(`${jobType}/${step}`);
  }
}
