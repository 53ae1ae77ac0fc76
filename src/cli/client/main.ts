import { parseCommandLine, type CommandSpec } from './command-line';
import { COMMANDS } from './commands/command-table';
import type { CommandContext } from './context';
import { credentialFromEnvironment } from './credentials';
import { exitCodeOf, ExitCode, ProblemResponseError } from './exit-codes';
import { ServiceClient } from './service-client';

export interface ProcessIo {
  argv: string[];
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Runs one command line; resolves with the exit status (errors are printed to stderr, never thrown). */
export async function main(io: ProcessIo): Promise<number> {
  try {
    const parsed = parseCommandLine(io.argv, COMMANDS as readonly CommandSpec<never>[], io.env);
    if (parsed.kind === 'help') {
      io.stdout.write(`${parsed.text}\n`);
      return ExitCode.Done;
    }
    const { settings, spec } = parsed.invocation;
    const client = new ServiceClient(settings.url, () => credentialFromEnvironment(io.env, settings.audience, settings.timeoutMs), settings.timeoutMs);
    const context: CommandContext = { client, settings, env: io.env, stdout: io.stdout, stderr: io.stderr };
    return await (spec as unknown as CommandSpec<CommandContext>).run(context, parsed.invocation);
  } catch (error) {
    io.stderr.write(`wasm-signer: ${messageOf(error)}\n`);
    return exitCodeOf(error);
  }
}

function messageOf(error: unknown): string {
  if (error instanceof ProblemResponseError && error.status === 401) return `${error.message} (set WASM_SIGNER_TOKEN, or run in GitHub Actions with id-token: write)`;
  return error instanceof Error ? error.message : String(error);
}
