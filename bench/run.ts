/**
 * Runs the benchmarks: all of them, or those named on the command line.
 *
 *   npm run bench                          # all
 *   npm run bench -- publish-throughput    # one
 *   npm run bench -- --list
 *
 * Figures go to stdout, progress to stderr. The exit status is 0 whether or not targets are met; it is
 * 1 when a benchmark could not run (an error) or a check failed (a `faults` case), 2 for a bad argument
 * or setting, 130 on Ctrl-C.
 *
 * The work runs in a child process (this file again, with BENCH_WORKER=1) while this process only
 * passes signals on: the tsx CLI that `npm run bench` goes through SIGKILLs a script that does not
 * acknowledge Ctrl-C within a few tens of milliseconds, which a benchmark keeping both cores busy may
 * not, and a killed benchmark could not stop its service, stack and databases. The idle parent always
 * answers in time; the worker always cleans up.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { Benchmark, BenchContext } from './support/benchmark';
import { Cleanup } from './support/cleanup';
import { startEnvironment } from './support/environment';
import { BenchSettingError } from './support/settings';
import { admission } from './admission';
import { authCost } from './auth-cost';
import { builds } from './builds';
import { faults } from './faults';
import { load } from './load';
import { publishThroughput } from './publish-throughput';
import { uploadThroughput } from './upload-throughput';
import { verifyThroughput } from './verify-throughput';

const BENCHMARKS: readonly Benchmark[] = [publishThroughput, uploadThroughput, verifyThroughput, admission, authCost, builds, load, faults];

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--list') || argv.includes('--help')) {
    process.stdout.write('benchmarks (npm run bench -- <name>…; settings in bench/README.md):\n');
    for (const benchmark of BENCHMARKS) process.stdout.write(`  ${benchmark.name.padEnd(20)} ${benchmark.summary}\n`);
    return 0;
  }
  const unknown = argv.filter((name) => !BENCHMARKS.some((b) => b.name === name));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}\n`);
    return 2;
  }
  const selected = argv.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => argv.includes(b.name));
  let runs: { name: string; run: (context: BenchContext) => Promise<void> }[];
  try {
    runs = selected.map((benchmark) => ({ name: benchmark.name, run: benchmark.configure() }));
  } catch (error) {
    if (!(error instanceof BenchSettingError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }

  const cleanup = new Cleanup(log);
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping what was started`);
    void cleanup.unwind().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let status = 0;
  try {
    const context: BenchContext = { cleanup, log, environment: await startEnvironment(cleanup, log) };
    for (const { name, run } of runs) {
      const mark = cleanup.mark();
      log(`running ${name}`);
      try {
        await run(context);
      } finally {
        await cleanup.unwind(mark);
      }
    }
  } catch (error) {
    if (!interrupted) process.stderr.write(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    status = 1;
  } finally {
    await cleanup.unwind();
  }
  return interrupted ? 130 : status;
}

/** Runs this file again as the worker, passes SIGINT/SIGTERM on, and ends with its exit status. */
function supervise(argv: readonly string[]): Promise<number> {
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  const worker = spawn(process.execPath, ['--import', tsx, __filename, ...argv], { stdio: 'inherit', env: { ...process.env, BENCH_WORKER: '1' } });
  const forward = (signal: NodeJS.Signals) => worker.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => {
    worker.once('error', (error) => {
      process.stderr.write(`cannot start the benchmark worker: ${error.message}\n`);
      resolve(1);
    });
    worker.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}

const argv = process.argv.slice(2);
(process.env.BENCH_WORKER === '1' ? main(argv) : supervise(argv)).then(
  (status) => process.exit(status),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);
