import type { CommandSpec } from '../command-line';
import type { CommandContext } from '../context';
import type { JobView } from '../job-view';
import { followJob, idempotencyHeaders, JOB_OPTIONS, JOB_OPTIONS_HELP } from './job-submission';

/** `sign`: POST /v1/signatures for an artifact already in a registry. */
export const signCommand: CommandSpec<CommandContext> = {
  words: ['sign'],
  usage: 'sign REFERENCE',
  summary: 'sign an artifact already in a registry (a tag is resolved to its digest first); waits for the job',
  optionsHelp: JOB_OPTIONS_HELP,
  options: { ...JOB_OPTIONS },
  positionals: ['REFERENCE'],
  async run(context, { values, positionals }) {
    const queued = await context.client.json<JobView>('POST', 'v1/signatures', { json: { reference: positionals[0] }, headers: idempotencyHeaders(values) });
    return followJob(context, values, queued);
  },
};
