import type { Cleanup } from './cleanup';
import type { BenchEnvironment } from './environment';

export interface BenchContext {
  /** Undo list shared with the runner: what is deferred here is undone at the end, or on Ctrl-C. */
  cleanup: Cleanup;
  /** Redis, PostgreSQL and the private stack, shared by the benchmarks of one run. */
  environment: BenchEnvironment;
  /** Progress on stderr (figures go to stdout). */
  log(message: string): void;
}

export interface Benchmark {
  name: string;
  summary: string;
  /** Reads and checks the benchmark's settings (before anything is started); returns the run. */
  configure(): (context: BenchContext) => Promise<void>;
}
