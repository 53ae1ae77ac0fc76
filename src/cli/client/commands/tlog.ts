import type { CommandSpec } from '../command-line';
import type { CommandContext } from '../context';
import { ExitCode, UsageError } from '../exit-codes';
import { printJson, say } from '../output';

interface TlogEntry {
  LogID: string;
  Index: number;
  IntegratedTime: string;
  UUID: string;
  Body: unknown;
  verification?: { setVerified?: boolean; inclusionProofVerified?: boolean | null; checkpointVerified?: boolean | null; leafHashMatchesUuid?: boolean; failures?: string[] } | null;
  source?: string;
}

/** `tlog get`: a Rekor entry through the service (GET /v1/tlog/entries…), printed as `rekor-cli get` prints it. */
export const tlogGetCommand: CommandSpec<CommandContext> = {
  words: ['tlog', 'get'],
  usage: 'tlog get --log-index N | --uuid UUID',
  summary: 'a transparency log entry (LogID, Index, IntegratedTime, UUID, Body), its proofs checked by the service',
  optionsHelp: `  --log-index N  the entry at this index of the log
  --uuid UUID    the entry with this UUID`,
  options: { 'log-index': { type: 'string' }, uuid: { type: 'string' } },
  positionals: [],
  check: (values) => {
    const index = values['log-index'] as string | undefined;
    if ((index === undefined) === (values.uuid === undefined)) throw new UsageError('tlog get needs --log-index or --uuid (one of them)');
    if (index !== undefined && !/^\d+$/.test(index)) throw new UsageError(`--log-index takes a whole number, not ${JSON.stringify(index)}`);
  },
  async run(context, { values }) {
    const entry =
      values['log-index'] !== undefined
        ? await context.client.json<TlogEntry>('GET', `v1/tlog/entries/${values['log-index'] as string}`)
        : await context.client.json<TlogEntry>('GET', 'v1/tlog/entries', { query: { uuid: values.uuid as string } });
    if (context.settings.output === 'json') {
      printJson(context, entry);
      return ExitCode.Done;
    }
    say(
      context,
      `LogID: ${entry.LogID}`,
      `Index: ${entry.Index}`,
      `IntegratedTime: ${entry.IntegratedTime}`,
      `UUID: ${entry.UUID}`,
      `Body: ${JSON.stringify(entry.Body, null, 2)}`,
    );
    const checks = entry.verification;
    if (checks) {
      const state = (value: boolean | null | undefined) => (value === null || value === undefined ? 'none' : value ? 'verified' : 'FAILED');
      say(
        context,
        `Checked: SET ${state(checks.setVerified)}, inclusion proof ${state(checks.inclusionProofVerified)}, checkpoint ${state(checks.checkpointVerified)}${entry.source ? `, from ${entry.source}` : ''}`,
      );
      for (const failure of checks.failures ?? []) say(context, `Failure: ${failure}`);
    }
    return ExitCode.Done;
  },
};
