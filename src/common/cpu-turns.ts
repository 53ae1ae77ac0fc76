/**
 * CPU-heavy synchronous work (a bundle verification: certificate chain, SCTs, SET, signatures — some
 * 15-40 ms each) taken one piece per event-loop turn. Twenty concurrent verifications of two signatures
 * each would otherwise run back to back in one turn and hold every other request (health checks
 * included) for most of a second; queued here, whatever arrived meanwhile is served between two pieces,
 * so no request waits longer than one piece. (Moving the work to worker threads would also free the
 * loop's core; this keeps the loop responsive without that.)
 */
export class CpuTurns {
  private readonly queue: Array<() => void> = [];
  private scheduled = false;

  /** Runs `work` in a turn of its own, after the work queued before it. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => {
        try {
          resolve(work());
        } catch (error) {
          reject(error as Error);
        }
      });
      this.schedule();
    });
  }

  /** Pieces waiting for their turn. */
  get waiting(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate scheduled from inside a check phase runs in the next loop iteration, after I/O.
    setImmediate(() => this.turn());
  }

  private turn(): void {
    this.scheduled = false;
    this.queue.shift()?.();
    if (this.queue.length > 0) this.schedule();
  }
}

/** The process's one queue: all CPU-heavy request work takes turns in it. */
export const cpuTurns = new CpuTurns();
