import type { JobRow } from '../database/database.types';
import { JOB_STEPS, PLANNED_JOB_STEPS, asCatalogueJob, catalogueSteps } from './job-catalogue';
import { StepHandlerRegistry } from './step-handler.registry';
import { STEP_QUEUES } from './step-queues';

describe('the job catalogue', () => {
  it('declares the steps of each job type in the order they run', () => {
    expect(JOB_STEPS).toEqual({
      publish: ['push', 'sign', 'verify'],
      sign: ['sign', 'verify'],
      verify: ['verify'],
      probe: ['push', 'sign', 'verify', 'notify'],
    });
  });

  it('makes a queue for each step a runnable job type has, and none for a step only a planned type names', () => {
    expect(PLANNED_JOB_STEPS.build).toContain('build');
    expect(STEP_QUEUES).toEqual(['push', 'sign', 'verify', 'notify']);
  });

  it('lists every (job type, step) a handler is needed for', () => {
    expect(catalogueSteps()).toHaveLength(3 + 2 + 1 + 4);
    expect(catalogueSteps()).toContainEqual({ jobType: 'sign', step: 'verify' });
    expect(catalogueSteps().some((entry) => (entry.jobType as string) === 'build')).toBe(false);
  });

  it('types stored rows of runnable job types only', () => {
    const row = { id: 'j', type: 'probe', input: { holdMs: 0 }, result: null } as unknown as JobRow;
    expect(asCatalogueJob(row)?.input).toEqual({ holdMs: 0 });
    expect(asCatalogueJob({ ...row, type: 'build' })).toBeUndefined();
  });
});

describe('StepHandlerRegistry', () => {
  const noop = async () => ({ steps: {} });

  it('finds a handler by job type and step, and refuses a second one for the same pair', () => {
    const registry = new StepHandlerRegistry();
    const handler = { jobType: 'probe' as const, step: 'push' as const, run: noop };
    registry.register(handler);
    expect(registry.find('probe', 'push')).toBe(handler);
    expect(registry.find('probe', 'sign')).toBeUndefined();
    expect(() => registry.register(handler)).toThrow('a handler for probe/push is already registered');
  });

  it('is complete once every step of the catalogue has a handler, and names what is missing before', () => {
    const registry = new StepHandlerRegistry();
    for (const { jobType, step } of catalogueSteps()) {
      if (jobType === 'sign' && step === 'verify') continue;
      registry.register({ jobType, step, run: noop } as never);
    }
    expect(registry.missing()).toEqual([{ jobType: 'sign', step: 'verify' }]);
    expect(() => registry.assertComplete()).toThrow("no handler for step 'verify' of job type 'sign'");
    registry.register({
      jobType: 'sign',
      step: 'verify',
      run: async () => ({ verification: { verified: true, policy: { certificateIdentity: 'i', certificateOidcIssuer: 'o', trustRoot: 'default' }, signatures: [] } }),
    });
    expect(() => registry.assertComplete()).not.toThrow();
  });
});
