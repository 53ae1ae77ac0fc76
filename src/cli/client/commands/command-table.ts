import type { CommandSpec } from '../command-line';
import type { CommandContext } from '../context';
import { buildCommand } from './build';
import { jobsGetCommand, jobsWatchCommand } from './jobs';
import { publishCommand } from './publish';
import { runCommand } from './run';
import { signCommand } from './sign';
import { tlogGetCommand } from './tlog';
import { verifyCommand } from './verify';

/** Every command of `wasm-signer`, in the order its help lists them. */
export const COMMANDS: readonly CommandSpec<CommandContext>[] = [
  publishCommand,
  signCommand,
  buildCommand,
  verifyCommand,
  runCommand,
  jobsGetCommand,
  jobsWatchCommand,
  tlogGetCommand,
];
