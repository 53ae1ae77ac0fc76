/** Talking to the service's jobs API: what GET /v1/jobs/{id} answers, and waiting for a job to end. */
import { sleep } from '../../test/support/service-process';

export interface JobStepView {
  name: string;
  state: string;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface JobView {
  id: string;
  type: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed';
  steps: JobStepView[];
  result: Record<string, unknown> | null;
  error: { code: string; message: string; step?: string } | null;
  createdAt: string;
  finishedAt: string | null;
}

export type WaitMode = 'poll' | 'sse';

/** Where jobs are read, and with which credential. */
export interface JobsEndpoint {
  baseUrl: string;
  authorization: Record<string, string>;
}

export interface WaitOptions {
  mode: WaitMode;
  /** Poll interval (mode poll). */
  pollMs: number;
  timeoutMs: number;
}

const finished = (job: JobView) => job.state === 'succeeded' || job.state === 'failed';

export interface FinishedJob {
  job: JobView;
  /** When the client saw the job end (performance.now()). */
  seenAt: number;
  /** Status requests it took (one event stream, or that many GETs). */
  requests: number;
}

/** Waits until the job succeeded or failed. */
export async function waitForJob(service: JobsEndpoint, id: string, options: WaitOptions): Promise<FinishedJob> {
  const { job, requests } = options.mode === 'sse' ? { job: await followEvents(service, id, options.timeoutMs), requests: 1 } : await poll(service, id, options);
  return { job, seenAt: performance.now(), requests };
}

async function poll({ baseUrl, authorization }: JobsEndpoint, id: string, options: WaitOptions): Promise<{ job: JobView; requests: number }> {
  const deadline = Date.now() + options.timeoutMs;
  for (let requests = 1; ; requests++) {
    const response = await fetch(`${baseUrl}/v1/jobs/${id}`, { headers: authorization, signal: AbortSignal.timeout(30_000) });
    if (!response.ok) throw new Error(`GET /v1/jobs/${id} answered HTTP ${response.status}: ${await response.text()}`);
    const job = (await response.json()) as JobView;
    if (finished(job)) return { job, requests };
    if (Date.now() > deadline) throw new Error(`job ${id} did not finish within ${options.timeoutMs} ms (state ${job.state})`);
    await sleep(options.pollMs);
  }
}

/** GET /v1/jobs/{id}/events: server-sent `job` events until the job ends. */
async function followEvents({ baseUrl, authorization }: JobsEndpoint, id: string, timeoutMs: number): Promise<JobView> {
  const response = await fetch(`${baseUrl}/v1/jobs/${id}/events`, { headers: { ...authorization, accept: 'text/event-stream' }, signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok || !response.body) throw new Error(`GET /v1/jobs/${id}/events answered HTTP ${response.status}: ${await response.text()}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let last: JobView | undefined;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n');
        if (data === '') continue;
        last = JSON.parse(data) as JobView;
        if (finished(last)) return last;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  throw new Error(`the event stream of job ${id} ended before the job did (last state ${last?.state ?? 'none'})`);
}

/** Milliseconds between two ISO timestamps of a job record; NaN when either is missing. */
export function between(from: string | null | undefined, to: string | null | undefined): number {
  return from && to ? Date.parse(to) - Date.parse(from) : Number.NaN;
}
