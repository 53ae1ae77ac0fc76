import { GroupCommit, RowRefused } from './group-commit';

/** A controllable "database": each statement waits until released, and is remembered with its rows. */
function database(options: { maxRows?: number; maxInFlight?: number; refuse?: (row: number) => boolean; failBatchesOver?: number } = {}) {
  const statements: number[][] = [];
  const waiting: (() => void)[] = [];
  const commit = new GroupCommit<number, string>({
    maxRows: options.maxRows ?? 100,
    maxInFlight: options.maxInFlight ?? 1,
    writeBatch: async (rows) => {
      statements.push(rows);
      await new Promise<void>((resolve) => waiting.push(resolve));
      if (options.failBatchesOver !== undefined && rows.length > options.failBatchesOver) throw new Error('the batch failed');
      return rows.map((row) => (options.refuse?.(row) ? new RowRefused(new Error(`row ${row} refused`)) : `written ${row}`));
    },
  });
  const releaseAll = async () => {
    // Releases statements until none is left, including those started by releasing others.
    for (let turns = 0; turns < 50; turns++) {
      await new Promise((resolve) => setImmediate(resolve));
      while (waiting.length > 0) waiting.shift()!();
    }
  };
  return { commit, statements, waiting, releaseAll };
}

describe('GroupCommit', () => {
  it('writes the rows added in one turn as one statement, and settles each caller with its own result', async () => {
    const { commit, statements, releaseAll } = database();
    const results = Promise.all([1, 2, 3].map((row) => commit.add(row)));
    await releaseAll();
    expect(await results).toEqual(['written 1', 'written 2', 'written 3']);
    expect(statements).toEqual([[1, 2, 3]]);
  });

  it('settles no caller before the statement holding its row has ended', async () => {
    const { commit, waiting } = database();
    let settled = false;
    const pending = commit.add(1).then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(waiting).toHaveLength(1); // the statement is running
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    waiting.shift()!();
    await pending;
    expect(settled).toBe(true);
  });

  it('gathers the rows that arrive while a statement runs into the next one, at most maxRows each', async () => {
    const { commit, statements, waiting, releaseAll } = database({ maxRows: 3 });
    const first = commit.add(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(waiting).toHaveLength(1);
    const later = [1, 2, 3, 4, 5].map((row) => commit.add(row));
    await new Promise((resolve) => setImmediate(resolve));
    expect(statements).toHaveLength(1); // the others wait for the first statement to end
    await releaseAll();
    await Promise.all([first, ...later]);
    expect(statements).toEqual([[0], [1, 2, 3], [4, 5]]);
  });

  it('fails only the refused row of a statement', async () => {
    const { commit, releaseAll } = database({ refuse: (row) => row === 2 });
    const outcomes = Promise.allSettled([1, 2, 3].map((row) => commit.add(row)));
    await releaseAll();
    const settled = await outcomes;
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toEqual(new Error('row 2 refused'));
  });

  it('writes the rows of a failed batch again one by one: a failure of the batch loses none', async () => {
    const { commit, statements, releaseAll } = database({ failBatchesOver: 1 });
    const results = Promise.all([1, 2, 3].map((row) => commit.add(row)));
    await releaseAll();
    expect(await results).toEqual(['written 1', 'written 2', 'written 3']);
    expect(statements).toEqual([[1, 2, 3], [1], [2], [3]]);
  });

  it('passes a single row’s error to its caller', async () => {
    const { commit, releaseAll } = database({ failBatchesOver: 0 });
    const outcome = commit.add(1).catch((error: unknown) => error);
    await releaseAll();
    expect(await outcome).toEqual(new Error('the batch failed'));
  });

  it('drain() waits for every row handed over, including those still waiting for a statement', async () => {
    const { commit, statements, waiting } = database({ maxRows: 2 });
    const written: string[] = [];
    for (const row of [1, 2, 3, 4, 5]) void commit.add(row).then((result) => written.push(result));
    let drained = false;
    const draining = commit.drain().then(() => (drained = true));
    // Release statements as they come, as a database would.
    const releasing = setInterval(() => waiting.shift()?.(), 1);
    await draining;
    clearInterval(releasing);
    expect(drained).toBe(true);
    expect(statements.flat().sort()).toEqual([1, 2, 3, 4, 5]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toHaveLength(5);
    expect(commit.waiting).toBe(0);
  });

  it('runs at most maxInFlight statements at once', async () => {
    const { commit, waiting, releaseAll } = database({ maxRows: 1, maxInFlight: 2 });
    const all = Promise.all([1, 2, 3, 4].map((row) => commit.add(row)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(waiting).toHaveLength(2);
    await releaseAll();
    await all;
  });
});
