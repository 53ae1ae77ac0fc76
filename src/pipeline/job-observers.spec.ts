import type { JobRow, StepName } from '../database/database.types';
import { type JobObserver, JobObservers, type StepOutcome } from './job-observers';

const job = { id: 'j1' } as JobRow;

describe('JobObservers', () => {
  it('tells every observer, in registration order, of the job, the step and its outcome', async () => {
    const calls: string[] = [];
    const observer = (name: string): JobObserver => ({
      afterStep: async (j: JobRow, step: StepName, outcome: StepOutcome) => void calls.push(`${name}:${j.id}:${step}:${outcome}`),
    });
    const observers = new JobObservers();
    observers.register(observer('a'));
    observers.register(observer('b'));
    await observers.afterStep(job, 'sign', 'succeeded');
    await observers.afterStep(job, 'verify', 'failed');
    expect(calls).toEqual(['a:j1:sign:succeeded', 'b:j1:sign:succeeded', 'a:j1:verify:failed', 'b:j1:verify:failed']);
  });

  it('passes an observer failure on to the caller, which retries', async () => {
    const observers = new JobObservers();
    observers.register({ afterStep: async () => Promise.reject(new Error('database down')) });
    await expect(observers.afterStep(job, 'push', 'succeeded')).rejects.toThrow('database down');
  });

  it('refuses the same observer twice', () => {
    const observers = new JobObservers();
    const observer: JobObserver = { afterStep: async () => undefined };
    observers.register(observer);
    expect(() => observers.register(observer)).toThrow('already registered');
  });
});
