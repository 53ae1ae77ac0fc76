import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JobRow } from '../database/database.types';
import { JobDto } from './job.dto';
import { openEventStream } from '../common/server-sent-events';

const POLL_INTERVAL_MS = 250;
const HEARTBEAT_MS = 15_000;

/**
 * Streams a job as server-sent events: the job as it is now, then each change (event `job`, data the
 * same JSON as GET /v1/jobs/{id}), ending after the job succeeds or fails. Changes are read from the
 * job record, which any worker process updates, so the stream works wherever the job runs. A comment
 * line every 15 s keeps proxies from closing an idle stream.
 */
export async function streamJobEvents(request: FastifyRequest, reply: FastifyReply, load: () => Promise<JobRow | undefined>, first: JobRow): Promise<void> {
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
  try {
    while (!stream.closed && current.state !== 'succeeded' && current.state !== 'failed') {
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
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
    raw.end();
  }
}
