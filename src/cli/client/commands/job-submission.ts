import { secondsOption, type OptionValues } from '../command-line';
import type { CommandContext } from '../context';
import { waitForJob } from '../job-waiter';
import type { JobView } from '../job-view';
import { jobProgress, printJob } from '../output';

/** Options of the commands that queue a job. */
export const JOB_OPTIONS = {
  wait: { type: 'boolean', default: true },
  'wait-timeout': { type: 'string' },
  'idempotency-key': { type: 'string' },
} as const;

export const JOB_OPTIONS_HELP = `  --no-wait               print the queued job and return (do not wait for it)
  --wait-timeout SECONDS  the longest wait for the job (default 1800)
  --idempotency-key KEY   sent as Idempotency-Key: the same request again answers the same job`;

export const idempotencyHeaders = (values: OptionValues): Record<string, string> => (values['idempotency-key'] ? { 'idempotency-key': values['idempotency-key'] as string } : {});

/** Waits for a queued job (unless --no-wait) with its progress, then prints its outcome; the exit status. */
export async function followJob(context: CommandContext, values: OptionValues, queued: JobView): Promise<number> {
  if (values.wait === false) return printJob(context, queued);
  const job = await waitForJob(context.client, queued.id, { onChange: jobProgress(context), timeoutMs: secondsOption(values, 'wait-timeout', 1800) * 1000 });
  return printJob(context, job);
}
