/**
 * The exit statuses of the wasm-signer command line, for pipelines to branch on:
 * 0 done; 1 a job failed, a verification failed or the service refused the request (its problem code is
 * printed); 2 bad usage; 3 the service could not be reached (connection refused, name not resolved,
 * no answer in time). `run` ends with the component's own status once it has started it.
 */
export const ExitCode = {
  Done: 0,
  Failed: 1,
  Usage: 2,
  Unreachable: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the command line reports in one message and ends with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The command line was not used as its help says. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.Usage);
  }
}

/** The service (or the registry `run` pulls from) did not answer: not listening, not resolvable, too slow. */
export class UnreachableError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.Unreachable);
  }
}

/** The service answered with an RFC 9457 problem document (or another error status). */
export class ProblemResponseError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly title: string | undefined,
    readonly detail: string | undefined,
  ) {
    super(`${status}${code ? ` ${code}` : ''}: ${detail ?? title ?? 'the service refused the request'}`, ExitCode.Failed);
  }
}

/** The status a process ends with after `error` was thrown: its own for CliErrors, 1 for anything else. */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof CliError ? error.exitCode : ExitCode.Failed;
}
