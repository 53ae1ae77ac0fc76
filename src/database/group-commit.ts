/**
 * Group commit: rows written by many concurrent requests go to the database together, as one statement
 * (a multi-row INSERT, or one UPDATE … FROM (VALUES …)), and each caller's promise settles only when the
 * statement that holds its row has committed. Nothing is fire-and-forget: a caller that must not go on
 * before its row is durable (an audit entry before the change it records) still waits for exactly that;
 * only the round trip and the statement are shared.
 *
 * Batching adds no waiting when the database is idle: the first row is written at once (on the next turn
 * of the event loop, so rows added in the same turn join it). Rows that arrive while a statement is
 * running wait for it to end and then go together, up to `maxRows` per statement; a few statements may
 * run at once (`maxInFlight`), so one slow statement does not hold every caller. Under load the batches
 * grow by themselves, and with them the rows per round trip and per commit.
 *
 * Failures: when a batch of several rows fails, its rows are written again one by one, so a row the
 * database refuses fails only its own caller, and a transient failure of the batch gets one more try
 * per row. Each caller then sees its own row's error, as with one statement per row. `drain()` (on
 * shutdown) waits until every row added so far was written or refused.
 *
 * Written here rather than taken from a library: the batching is a dozen lines around the database
 * client the service already has, and what it must guarantee (per-row outcomes, order of settlement,
 * draining on shutdown) is specific to how the callers use it.
 */
export interface GroupCommitOptions<T, R> {
  /**
   * Writes the rows as one statement; resolves with one result per row, in the same order. A `RowRefused`
   * in place of a result fails that row's caller alone (the statement went through for the others).
   */
  writeBatch: (rows: T[]) => Promise<(R | RowRefused)[]>;
  /** Most rows in one statement. */
  maxRows: number;
  /** Most statements running at once. */
  maxInFlight: number;
}

/** The statement went through, but not for this row (for example: the row it updates is not there). */
export class RowRefused {
  constructor(readonly error: Error) {}
}

interface Pending<T, R> {
  row: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<T, R> {
  private queue: Pending<T, R>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly running = new Set<Promise<void>>();
  /** Statements written and rows in them, since start (for tests and metrics). */
  readonly stats = { statements: 0, rows: 0 };

  constructor(private readonly options: GroupCommitOptions<T, R>) {
    if (!Number.isInteger(options.maxRows) || options.maxRows < 1) throw new RangeError(`maxRows must be a positive integer, got ${options.maxRows}`);
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) throw new RangeError(`maxInFlight must be a positive integer, got ${options.maxInFlight}`);
  }

  /** Rows waiting for a statement (not yet sent). */
  get waiting(): number {
    return this.queue.length;
  }

  /** Writes row with others; resolves with its result once the statement that held it has committed. */
  add(row: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once every row added before (and while) it runs was written or refused. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.running.size > 0) {
      this.pump();
      await Promise.all([...this.running]);
    }
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight) return;
    this.scheduled = true;
    // Rows added in this turn of the event loop join the first statement.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.queue.splice(0, this.options.maxRows);
      this.inFlight += 1;
      const run = this.write(batch).finally(() => {
        this.inFlight -= 1;
        this.running.delete(run);
        if (this.queue.length > 0) this.pump();
      });
      this.running.add(run);
    }
  }

  private async write(batch: Pending<T, R>[]): Promise<void> {
    try {
      const results = await this.options.writeBatch(batch.map((p) => p.row));
      if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} rows gave ${results.length} results`);
      this.stats.statements += 1;
      this.stats.rows += batch.length;
      batch.forEach((pending, i) => settle(pending, results[i]!));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      // One by one: a row the database refuses fails only its caller; the others get another try.
      await Promise.all(
        batch.map(async (pending) => {
          try {
            const results = await this.options.writeBatch([pending.row]);
            if (results.length !== 1) throw new Error(`a batch of 1 row gave ${results.length} results`);
            this.stats.statements += 1;
            this.stats.rows += 1;
            settle(pending, results[0]!);
          } catch (rowError) {
            pending.reject(rowError);
          }
        }),
      );
    }
  }
}

function settle<T, R>(pending: Pending<T, R>, result: R | RowRefused): void {
  if (result instanceof RowRefused) pending.reject(result.error);
  else pending.resolve(result);
}
