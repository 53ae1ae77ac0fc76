import { JobChanges } from '../../src/pipeline/job-changes';
import { type Integration, startIntegration } from './support/integration-env';

/** Two JobChanges on one Redis stand for two processes: a worker that writes a job, an API that streams it. */
describe('JobChanges over Redis', () => {
  let it_: Integration;
  let api: JobChanges;
  let worker: JobChanges;

  beforeAll(async () => {
    it_ = await startIntegration();
    api = new JobChanges(it_.config);
    worker = new JobChanges(it_.config);
    // The subscription is opened by the first watch; wait until it hears the other process.
    api.watch('warm-up', 1).cancel();
    const deadline = Date.now() + 10_000;
    while (!api['broadcast'].listening && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  });

  afterAll(async () => {
    await api?.onApplicationShutdown();
    await worker?.onApplicationShutdown();
    await it_?.stop();
  });

  it("wakes a watch of a job when another process announces that job, and not for another job's change", async () => {
    const watched = api.watch('job-a', 60_000);
    const other = api.watch('job-b', 60_000);
    let otherWoken = false;
    void other.changed.then(() => (otherWoken = true));
    const started = Date.now();
    await worker.announce('job-a');
    await watched.changed;
    expect(Date.now() - started).toBeLessThan(5_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(otherWoken).toBe(false);
    other.cancel();
  });

  it('wakes a watch at its fallback when no announcement comes, and a change in this process at once', async () => {
    const started = Date.now();
    await api.watch('job-quiet', 300).changed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);

    const local = api.watch('job-local', 60_000);
    await api.announce('job-local');
    await local.changed;
  });
});
