import type { CommandSpec } from '../command-line';
import type { CommandContext } from '../context';
import type { JobView } from '../job-view';
import { printJob } from '../output';
import { followJob } from './job-submission';

/** `jobs get`: the job as it is now (exit 1 when it failed). */
export const jobsGetCommand: CommandSpec<CommandContext> = {
  words: ['jobs', 'get'],
  usage: 'jobs get ID',
  summary: "a job's state, steps and result, as it is now",
  options: {},
  positionals: ['ID'],
  async run(context, { positionals }) {
    return printJob(context, await context.client.json<JobView>('GET', `v1/jobs/${encodeURIComponent(positionals[0]!)}`));
  },
};

/** `jobs watch`: follows a job until it finishes. */
export const jobsWatchCommand: CommandSpec<CommandContext> = {
  words: ['jobs', 'watch'],
  usage: 'jobs watch ID',
  summary: 'follow a job until it succeeds (exit 0) or fails (exit 1)',
  optionsHelp: '  --wait-timeout SECONDS  the longest wait (default 1800)',
  options: { 'wait-timeout': { type: 'string' } },
  positionals: ['ID'],
  async run(context, { values, positionals }) {
    const job = await context.client.json<JobView>('GET', `v1/jobs/${encodeURIComponent(positionals[0]!)}`);
    return followJob(context, values, job);
  },
};
