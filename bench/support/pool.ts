/**
 * Runs `count` tasks with at most `concurrency` at once (a closed loop: each slot starts its next task
 * when the previous one ends), until `count` tasks were started or `maxMs` has passed (tasks already
 * running are waited for). The first failure stops new tasks and is thrown once the running ones end.
 * Returns the results of the tasks that ran, in the order they were started.
 */
export async function runPoolFor<T>(count: number, concurrency: number, maxMs: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  const deadline = performance.now() + maxMs;
  let next = 0;
  let failure: { error: unknown } | undefined;
  const slot = async () => {
    while (!failure && next < count && performance.now() < deadline) {
      const index = next++;
      try {
        results[index] = await task(index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, slot));
  if (failure) throw failure.error;
  return results.slice(0, next);
}

/** runPoolFor without a time bound: all `count` tasks run. */
export function runPool<T>(count: number, concurrency: number, task: (index: number) => Promise<T>): Promise<T[]> {
  return runPoolFor(count, concurrency, Number.POSITIVE_INFINITY, task);
}
