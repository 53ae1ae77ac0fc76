import type { Queue } from 'bullmq';
import type { QueueState } from '../metrics/metrics.service';

/** Job states counted for the queue gauges: waiting for a worker, running, backing off, waiting for their previous step. */
export const COUNTED_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'waiting-children'] as const;

/**
 * One queue's counts and since when its first job in line has been ready to run. BullMQ records when a
 * job was added, not when it became ready: a step's job is added with its whole pipeline and becomes
 * ready when the step before it (its child in the flow) finishes, so that child's finishedOn counts; a
 * retried job became ready after its backoff, of which its last start (processedOn) is the lower bound.
 */
export async function readQueueState(queue: Queue, queues: ReadonlyMap<string, Queue>): Promise<QueueState> {
  const counts = await queue.getJobCounts(...COUNTED_STATES);
  const [first] = counts.waiting ? await queue.getJobs(['waiting'], 0, 0, true) : [];
  let oldestWaitingSince: number | null = null;
  if (first) {
    oldestWaitingSince = Math.max(first.timestamp, first.processedOn ?? 0);
    const { processed } = await first.getDependencies({ processed: { count: 10 } });
    for (const key of Object.keys(processed ?? {})) {
      // Keys are `<prefix>:<queue>:<job id>`; step job IDs hold no colon.
      const parts = key.split(':');
      const child = await queues.get(parts.at(-2)!)?.getJob(parts.at(-1)!);
      if (child?.finishedOn) oldestWaitingSince = Math.max(oldestWaitingSince, child.finishedOn);
    }
  }
  return { queue: queue.name, counts, oldestWaitingSince };
}

/**
 * The queue states for a scrape: read at most once per `maxAgeMs` (a burst of scrapes, several
 * Prometheus servers, costs Redis one read), within `timeoutMs`; when Redis does not answer the gauges
 * are left out (an empty list) rather than failing the scrape or showing stale numbers.
 */
export function cachedQueueStates(read: () => Promise<QueueState[]>, options: { maxAgeMs: number; timeoutMs: number; onError: (error: unknown) => void; now?: () => number }) {
  const now = options.now ?? Date.now;
  let last: { at: number; states: Promise<QueueState[]> } | undefined;
  return (): Promise<QueueState[]> => {
    if (last && now() - last.at < options.maxAgeMs) return last.states;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`queue state not read within ${options.timeoutMs} ms`)), options.timeoutMs);
    });
    const states = Promise.race([read(), timeout])
      .catch((error: unknown) => {
        options.onError(error);
        return [];
      })
      .finally(() => clearTimeout(timer));
    last = { at: now(), states };
    return states;
  };
}
