import { setTimeout } from 'node:timers/promises';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { JOB_STEPS } from '../pipeline/job-catalogue';
import { StepHandlerRegistry } from '../pipeline/step-handler.registry';

/**
 * A pipeline probe travels through every step queue and records which worker process took each
 * step and when. Operators use it to check that workers consume every queue, and how long a job
 * waits in each.
 */
@Injectable()
export class ProbeSteps implements OnModuleInit {
  constructor(private readonly registry: StepHandlerRegistry) {}

  onModuleInit(): void {
    for (const step of JOB_STEPS.probe) {
      this.registry.register({
        jobType: 'probe',
        step,
        run: async (job, context) => {
          const holdMs = job.input.holdMs ?? 0;
          if (holdMs > 0) await setTimeout(holdMs, undefined, { signal: context.signal });
          const previous = job.result?.steps ?? {};
          return {
            steps: { ...previous, [step]: { worker: context.worker, pid: process.pid, at: new Date().toISOString() } },
          };
        },
      });
    }
  }
}
