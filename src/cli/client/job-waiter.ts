import { CliError, ExitCode, UnreachableError } from './exit-codes';
import { isFinished, type JobView } from './job-view';
import { serverSentEvents } from './server-sent-events';
import type { ServiceClient } from './service-client';

const POLL_INTERVAL_MS = 1_000;

export interface WaitOptions {
  /** Called with each new version of the job (state or a step changed). */
  onChange: (job: JobView) => void;
  /** The longest wait, all of it. */
  timeoutMs: number;
}

/**
 * Waits until the job succeeds or fails: follows GET /v1/jobs/{id}/events (server-sent events) and,
 * when the stream cannot be opened or ends early, polls GET /v1/jobs/{id} every second.
 */
export async function waitForJob(client: ServiceClient, id: string, options: WaitOptions): Promise<JobView> {
  const deadline = Date.now() + options.timeoutMs;
  const report = changeReporter(options.onChange);
  const path = `v1/jobs/${encodeURIComponent(id)}`;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), options.timeoutMs);
  try {
    try {
      const response = await client.stream(`${path}/events`, abort.signal, { accept: 'text/event-stream' });
      if (response.body && response.headers.get('content-type')?.startsWith('text/event-stream')) {
        for await (const event of serverSentEvents(response.body)) {
          if (event.event !== 'job') continue;
          const job = JSON.parse(event.data) as JobView;
          report(job);
          if (isFinished(job)) return job;
        }
      }
    } catch (error) {
      // A refusal (404 unknown job, 401) is final; a stream that broke off falls back to polling.
      if (error instanceof CliError && !(error instanceof UnreachableError)) throw error;
      if (abort.signal.aborted) throw timedOut(id, options.timeoutMs);
    }
    while (Date.now() < deadline) {
      const job = await client.json<JobView>('GET', path);
      report(job);
      if (isFinished(job)) return job;
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_INTERVAL_MS, Math.max(0, deadline - Date.now()))));
    }
    throw timedOut(id, options.timeoutMs);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

function timedOut(id: string, timeoutMs: number): CliError {
  return new CliError(`job ${id} did not finish within ${Math.round(timeoutMs / 1000)} s (it may still: wasm-signer jobs watch ${id})`, ExitCode.Failed);
}

/** Calls `onChange` only when the job's state or a step's state differs from the last one reported. */
function changeReporter(onChange: (job: JobView) => void): (job: JobView) => void {
  let last = '';
  return (job) => {
    const key = `${job.state}|${job.steps.map((step) => `${step.name}=${step.state}`).join(',')}`;
    if (key === last) return;
    last = key;
    onChange(job);
  };
}
