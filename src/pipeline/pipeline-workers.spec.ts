import type { JobChanges } from './job-changes';
import { DelayedError, type Job } from 'bullmq';
import { classifyDriverError } from '../database/database-outage';
import type { AppConfig } from '../config/config.schema';
import type { JobRow, StepName } from '../database/database.types';
import type { MetricsService } from '../metrics/metrics.service';
import { JobObservers, type StepOutcome } from './job-observers';
import type { JobsRepository } from './jobs.repository';
import { PipelineWorkers, consumedQueues } from './pipeline-workers.service';
import { StepHandlerRegistry } from './step-handler.registry';
import type { StepJobData } from './step-queues';

/** One probe job held in memory, recorded the way JobsRepository records it. */
function jobsHolding(job: JobRow) {
  let heartbeats = 0;
  const setStep = (step: StepName, state: 'running' | 'succeeded' | 'failed') => {
    job = { ...job, steps: job.steps.map((s) => (s.name === step ? { ...s, state } : s)) };
    if (job.steps.every((s) => s.state === 'succeeded')) job = { ...job, state: 'succeeded' };
    return job;
  };
  return {
    get job() {
      return job;
    },
    get heartbeats() {
      return heartbeats;
    },
    stepHeartbeat: async () => void (heartbeats += 1),
    find: async () => job,
    stepStarted: async (_id: string, step: StepName) => setStep(step, 'running'),
    stepSucceeded: async (_id: string, step: StepName, patch: object) => {
      job = { ...job, result: { ...(job.result ?? {}), ...patch } };
      return setStep(step, 'succeeded');
    },
    stepFailed: async (_id: string, step: StepName, _error: unknown, final: boolean) => setStep(step, final ? 'failed' : 'running'),
  };
}

const pending = (name: StepName) => ({ name, state: 'pending' as const, attempts: 0, startedAt: null, finishedAt: null, worker: null, error: null });

describe('PipelineWorkers and the job observers', () => {
  it('a failing observer does not fail the step: the retry finds it recorded, does not run it again, and tells the observers again', async () => {
    const jobs = jobsHolding({ id: 'j1', type: 'probe', state: 'queued', input: { holdMs: 0 }, result: null, steps: [pending('push')] } as unknown as JobRow);
    const registry = new StepHandlerRegistry();
    let runs = 0;
    registry.register({ jobType: 'probe', step: 'push', run: async () => ({ steps: { push: { worker: 'w', pid: 1, at: `run ${++runs}` } } }) });
    const told: [StepName, StepOutcome, string][] = [];
    let failNext = true;
    const observers = new JobObservers();
    observers.register({
      afterStep: async (job, step, outcome) => {
        told.push([step, outcome, job.steps[0]!.state]);
        if (failNext) {
          failNext = false;
          throw new Error('webhook records unavailable');
        }
      },
    });
    const config = { instanceId: 'w', queues: { enqueueSweepGraceMs: 30_000 } } as AppConfig;
    const metrics = { stepDuration: { observe: () => undefined }, jobsFinished: { inc: () => undefined } } as unknown as MetricsService;
    const changes = { announce: async () => undefined } as unknown as JobChanges;
    const workers = new PipelineWorkers(config, jobs as unknown as JobsRepository, registry, metrics, observers, changes);
    const attempt = (attemptsMade: number) => ({ data: { jobId: 'j1', step: 'push' }, attemptsMade, opts: { attempts: 8 } }) as Job<StepJobData>;

    await expect(workers['process'](attempt(0))).rejects.toThrow('webhook records unavailable');
    expect(jobs.job.steps[0]!.state).toBe('succeeded');
    expect(jobs.job.state).toBe('succeeded');

    await workers['process'](attempt(1));
    expect(runs).toBe(1);
    expect(told).toEqual([
      ['push', 'succeeded', 'succeeded'],
      ['push', 'succeeded', 'succeeded'],
    ]);
  });
});

describe('PipelineWorkers and the step heartbeat', () => {
  it('says the step is running every third of the sweep grace period while it runs, and stops when it ends', async () => {
    const jobs = jobsHolding({ id: 'j1', type: 'probe', state: 'queued', input: { holdMs: 0 }, result: null, steps: [pending('push')] } as unknown as JobRow);
    const registry = new StepHandlerRegistry();
    registry.register({
      jobType: 'probe',
      step: 'push',
      run: async () => {
        await new Promise((resolve) => setTimeout(resolve, 2_300));
        return { steps: { push: { worker: 'w', pid: 1, at: 'run' } } };
      },
    });
    const config = { instanceId: 'w', queues: { enqueueSweepGraceMs: 3_000 } } as AppConfig;
    const metrics = { stepDuration: { observe: () => undefined }, jobsFinished: { inc: () => undefined } } as unknown as MetricsService;
    const changes = { announce: async () => undefined } as unknown as JobChanges;
    const workers = new PipelineWorkers(config, jobs as unknown as JobsRepository, registry, metrics, new JobObservers(), changes);
    await workers['process']({ data: { jobId: 'j1', step: 'push' }, attemptsMade: 0, opts: { attempts: 1 } } as Job<StepJobData>);
    expect(jobs.heartbeats).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(jobs.heartbeats).toBe(2);
  });
});

describe('PipelineWorkers when the database is out', () => {
  it('postpones the step without using an attempt and without recording a failure, and runs it again once the database answers', async () => {
    const jobs = jobsHolding({ id: 'j1', type: 'probe', state: 'queued', input: { holdMs: 0 }, result: null, steps: [pending('push')] } as unknown as JobRow);
    const registry = new StepHandlerRegistry();
    registry.register({ jobType: 'probe', step: 'push', run: async () => ({ steps: { push: { worker: 'w', pid: 1, at: 'run' } } }) });
    let databaseDown = true;
    let failuresRecorded = 0;
    const repository = {
      ...jobs,
      find: jobs.find,
      stepSucceeded: async (...args: Parameters<typeof jobs.stepSucceeded>) => {
        if (databaseDown) throw classifyDriverError(new Error('Connection terminated unexpectedly'));
        return jobs.stepSucceeded(...args);
      },
      stepFailed: async (...args: Parameters<typeof jobs.stepFailed>) => {
        failuresRecorded += 1;
        return jobs.stepFailed(...args);
      },
    };
    const config = { instanceId: 'w', queues: { stepRetryBaseMs: 100, enqueueSweepGraceMs: 30_000 } } as AppConfig;
    let postponedCounted = 0;
    const metrics = {
      stepDuration: { observe: () => undefined },
      jobsFinished: { inc: () => undefined },
      stepsPostponed: { inc: () => void (postponedCounted += 1) },
    } as unknown as MetricsService;
    const changes = { announce: async () => undefined } as unknown as JobChanges;
    const workers = new PipelineWorkers(config, repository as unknown as JobsRepository, registry, metrics, new JobObservers(), changes);
    const delays: number[] = [];
    const bullJob = {
      data: { jobId: 'j1', step: 'push' },
      attemptsMade: 0,
      opts: { attempts: 1 },
      moveToDelayed: async (timestamp: number) => void delays.push(timestamp - Date.now()),
    } as unknown as Job<StepJobData>;

    // One attempt only: were the outage to use it up, the job would fail here.
    await expect(workers['processOrPostpone'](bullJob, 'token')).rejects.toBeInstanceOf(DelayedError);
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThan(100);
    expect(postponedCounted).toBe(1);
    expect(failuresRecorded).toBe(0);
    expect(jobs.job.steps[0]!.state).toBe('running');

    databaseDown = false;
    await workers['processOrPostpone'](bullJob, 'token');
    expect(jobs.job.state).toBe('succeeded');
    expect(failuresRecorded).toBe(0);
  });

  it('fails the attempt as before for an error that is no outage', async () => {
    const jobs = jobsHolding({ id: 'j1', type: 'probe', state: 'queued', input: { holdMs: 0 }, result: null, steps: [pending('push')] } as unknown as JobRow);
    const registry = new StepHandlerRegistry();
    registry.register({ jobType: 'probe', step: 'push', run: async () => Promise.reject(new Error('registry said no')) });
    const config = { instanceId: 'w', queues: { stepRetryBaseMs: 100, enqueueSweepGraceMs: 30_000 } } as AppConfig;
    const metrics = { stepDuration: { observe: () => undefined }, jobsFinished: { inc: () => undefined } } as unknown as MetricsService;
    const changes = { announce: async () => undefined } as unknown as JobChanges;
    const workers = new PipelineWorkers(config, jobs as unknown as JobsRepository, registry, metrics, new JobObservers(), changes);
    const bullJob = { data: { jobId: 'j1', step: 'push' }, attemptsMade: 0, opts: { attempts: 1 }, moveToDelayed: async () => undefined } as unknown as Job<StepJobData>;
    await expect(workers['processOrPostpone'](bullJob, 'token')).rejects.toThrow('registry said no');
    expect(jobs.job.steps[0]!.state).toBe('failed');
  });
});

describe('consumedQueues', () => {
  it('takes builds only where BUILD_WORKER says so: off (default), also, or only (a build node)', () => {
    expect(consumedQueues('off')).toEqual(['push', 'sign', 'attest', 'verify', 'notify']);
    expect(consumedQueues('also')).toEqual(['build', 'push', 'sign', 'attest', 'verify', 'notify']);
    expect(consumedQueues('only')).toEqual(['build']);
  });
});
