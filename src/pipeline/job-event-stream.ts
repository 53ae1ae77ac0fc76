import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JobRow } from '../database/database.types';
import { JobDto } from './job.dto';
import { openEventStream } from '../common/server-sent-events';
import type { JobChanges } from './job-changes';

/** How often the record is read when no announcement came (one was lost, or Redis is away). */
const FALLBACK_POLL_MS = 2_000;
const HEARTBEAT_MS = 15_000;

/**
 * Streams a job as server-sent events: the job as it is now, then each change (event `job`, data the
 * same JSON as GET /v1/jobs/{id}), ending after the job succeeds or fails. Changes are read from the
 * job record, which any worker process updates, when a worker announces one (JobChanges), or every
 * FALLBACK_POLL_MS without one; so the stream works wherever the job runs. A comment line every 15 s
 * keeps proxies from closing an idle stream.
 */
export async function streamJobEvents(
  request: FastifyRequest,
  reply: FastifyReply,
  load: () => Promise<JobRow | undefined>,
  first: JobRow,
  changes: Pick<JobChanges, 'watch'>,
): Promise<void> {
  const stream = openEventStream(request, reply);
  const raw = stream.raw;
  let sequence = 0;
  const send = (job: JobRow) => {
    sequence += 1;
    raw.write(`id: ${sequence}\nevent: job\ndata: ${JSON.stringify(JobDto.from(job))}\n\n`);
  };
  let lastHeartbeat = Date.now();
  let current = first;
  send(current);
  // Watched before the record is read again, so that no change falls between a read and the wait.
  let watch = changes.watch(first.id, FALLBACK_POLL_MS);
  try {
    while (!stream.closed && current.state !== 'succeeded' && current.state !== 'failed') {
      await watch.changed;
      if (stream.closed) break;
      watch = changes.watch(first.id, FALLBACK_POLL_MS);
      const next = await load();
      if (!next) break;
      if (next.updated_at.getTime() !== current.updated_at.getTime() || next.state !== current.state) send(next);
      current = next;
      if (Date.now() - lastHeartbeat > HEARTBEAT_MS) {
        raw.write(': keep-alive\n\n');
        lastHeartbeat = Date.now();
      }
    }
  } catch {
    // The database went away mid-stream: end the stream; the client reconnects or polls.
  } finally {
    watch.cancel();
    raw.end();
  }
}
