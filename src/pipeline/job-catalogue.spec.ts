import type { JobRow } from '../database/database.types';
import { JOB_STEPS, asCatalogueJob, catalogueSteps } from './job-catalogue';
import { StepHandlerRegistry } from './step-handler.registry';
import { STEP_QUEUES } from './step-queues';

describe('the job catalogue', () => {
  it('declares the steps of each job type in the order they run', () => {
    expect(JOB_STEPS).toEqual({
      publish: ['push', 'sign', 'verify'],
      sign: ['sign', 'verify'],
      build: ['build', 'push', 'sign', 'attest', 'verify'],
      verify: ['verify'],
      probe: ['push', 'sign', 'attest', 'verify', 'notify'],
    });
  });

  it('makes one queue per step, in pipeline order, builds on their own queue', () => {
    expect(STEP_QUEUES).toEqual(['build', 'push', 'sign', 'attest', 'verify', 'notify']);
  });

  it('lists every (job type, step) a handler is needed for', () => {
    expect(catalogueSteps()).toHaveLength(3 + 2 + 5 + 1 + 5);
    expect(catalogueSteps()).toContainEqual({ jobType: 'sign', step: 'verify' });
    expect(catalogueSteps()).toContainEqual({ jobType: 'build', step: 'attest' });
  });

  it('types stored rows of catalogue job types only', () => {
    const row = { id: 'j', type: 'probe', input: { holdMs: 0 }, result: null } as unknown as JobRow;
    expect(asCatalogueJob(row)?.input).toEqual({ holdMs: 0 });
    expect(asCatalogueJob({ ...row, type: 'retired' } as unknown as JobRow)).toBeUndefined();
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
