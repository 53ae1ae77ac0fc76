import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';

/** jco's command-line entry, next to its library entry (the package exports no path to it). */
export function jcoEntry(): string {
  return join(dirname(require.resolve('@bytecodealliance/jco')), 'jco.js');
}

/**
 * Runs a WASI 0.2 command component with `jco run` (transpiled to JavaScript, on the preview2 shim) in a
 * child process sharing this one's standard streams; resolves with its exit status (128 + the signal
 * number when a signal ended it). Arguments go after `--`, so none is taken for one of jco's options.
 */
export function runCommandComponent(file: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [jcoEntry(), 'run', file, '--', ...args], { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
}
