import { CpuTurns } from './cpu-turns';

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // burn CPU like a verification does
  }
};

describe('CpuTurns', () => {
  it('runs queued work in order and passes results and errors through', async () => {
    const turns = new CpuTurns();
    const order: number[] = [];
    const results = await Promise.allSettled([
      turns.run(() => (order.push(1), 'a')),
      turns.run(() => {
        order.push(2);
        throw new Error('boom');
      }),
      turns.run(() => (order.push(3), 'c')),
    ]);
    expect(order).toEqual([1, 2, 3]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['a', 'boom', 'c']);
  });

  it('lets a timer fire between two pieces of work, however many are queued', async () => {
    const turns = new CpuTurns();
    const pieces = Array.from({ length: 20 }, () => turns.run(() => busy(10)));
    const started = performance.now();
    const timer = new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - started), 0));
    const [waited] = await Promise.all([timer, Promise.all(pieces)]);
    // Back to back the 20 pieces would hold the loop for 200 ms; taking turns, the timer waits for about one.
    expect(waited).toBeLessThan(100);
  });
});
