/**
 * Runs `count` tasks with at most `concurrency` at once (a closed loop: each slot starts its next task
 * when the previous one ends). The first failure stops new tasks and is thrown once the running ones end.
 */
export async function runPool<T>(count: number, concurrency: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const slot = async () => {
    while (!failure && next < count) {
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
  return results;
}
