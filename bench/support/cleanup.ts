/**
 * What a benchmark run started, undone newest first: the service process, databases, the private
 * stack. Each step runs once, whether the run ends normally, fails, or is interrupted.
 */
export class Cleanup {
  private readonly steps: { name: string; run: () => Promise<void> }[] = [];
  /** Unwinds run one after the other (an interrupt may ask while a benchmark is unwinding). */
  private unwinding: Promise<void> = Promise.resolve();

  constructor(private readonly log: (message: string) => void) {}

  defer(name: string, run: () => Promise<void>): void {
    this.steps.push({ name, run });
  }

  /** The current depth, for unwind(): what was deferred after this point is undone by it. */
  mark(): number {
    return this.steps.length;
  }

  /** Runs the steps deferred after `mark` (all of them by default), newest first; failures are reported, not thrown. */
  unwind(mark = 0): Promise<void> {
    this.unwinding = this.unwinding.then(() => this.runSteps(mark));
    return this.unwinding;
  }

  private async runSteps(mark: number): Promise<void> {
    while (this.steps.length > mark) {
      const step = this.steps.pop()!;
      try {
        await step.run();
      } catch (error) {
        this.log(`cleanup: ${step.name} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
