import { MetricsService, type QueueState } from '../metrics/metrics.service';
import { cachedQueueStates } from './queue-states';

const STATE: QueueState = { queue: 'sign', counts: { waiting: 2, active: 1, delayed: 0, prioritized: 0, 'waiting-children': 3 }, oldestWaitingSince: 1_000 };

describe('cachedQueueStates', () => {
  it('reads once per maxAgeMs however often it is asked', async () => {
    let now = 0;
    const read = jest.fn(() => Promise.resolve([STATE]));
    const states = cachedQueueStates(read, { maxAgeMs: 5_000, timeoutMs: 1_000, onError: () => undefined, now: () => now });
    await Promise.all([states(), states(), states()]);
    now = 4_999;
    expect(await states()).toEqual([STATE]);
    expect(read).toHaveBeenCalledTimes(1);
    now = 5_000;
    await states();
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('answers no states, and tells onError, when the read fails or does not finish in time', async () => {
    const errors: string[] = [];
    const onError = (error: unknown) => errors.push((error as Error).message);
    const failing = cachedQueueStates(() => Promise.reject(new Error('Connection is closed.')), { maxAgeMs: 0, timeoutMs: 1_000, onError });
    expect(await failing()).toEqual([]);
    const hanging = cachedQueueStates(() => new Promise<never>(() => undefined), { maxAgeMs: 0, timeoutMs: 50, onError });
    expect(await hanging()).toEqual([]);
    expect(errors).toEqual(['Connection is closed.', 'queue state not read within 50 ms']);
  });
});

describe('queue gauges', () => {
  it('show the counts by queue and state and the age of the oldest waiting job', async () => {
    const metrics = new MetricsService();
    metrics.queueStates = () => Promise.resolve([STATE, { queue: 'push', counts: { waiting: 0 }, oldestWaitingSince: null }]);
    const before = Date.now();
    const text = await metrics.registry.metrics();
    expect(text).toContain('wasm_signer_queue_jobs{queue="sign",state="waiting"} 2');
    expect(text).toContain('wasm_signer_queue_jobs{queue="sign",state="waiting-children"} 3');
    expect(text).toContain('wasm_signer_queue_oldest_waiting_age_seconds{queue="push"} 0');
    const age = Number(/wasm_signer_queue_oldest_waiting_age_seconds\{queue="sign"\} ([\d.]+)/.exec(text)![1]);
    expect(age).toBeGreaterThanOrEqual((before - 1_000) / 1000);
  });

  it('are left out, and the scrape still answers, when the queues cannot be read', async () => {
    const metrics = new MetricsService();
    metrics.queueStates = cachedQueueStates(() => Promise.reject(new Error('Redis is down')), { maxAgeMs: 0, timeoutMs: 100, onError: () => undefined });
    const text = await metrics.registry.metrics();
    expect(text).toContain('# TYPE wasm_signer_queue_jobs gauge');
    expect(text).not.toMatch(/^wasm_signer_queue_jobs\{/m);
    expect(text).toContain('process_cpu_seconds_total');
  });
});
