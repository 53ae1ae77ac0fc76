import { Controller, Get, Headers, Param, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Authorize, CurrentCaller } from '../access/authorize';
import { type Caller, callerOwns } from '../access/caller';
import { ProblemError, problems } from '../common/problem';
import { ProblemDto } from '../common/problem.dto';
import { ApiUuidParam } from '../openapi/path-params';
import { openEventStream } from '../common/server-sent-events';
import type { JobRow } from '../database/database.types';
import { JobsService } from '../pipeline/jobs.service';
import { BuildLogs } from './build-logs';
import { BuildRecordsRepository } from './build-records.repository';

const POLL_INTERVAL_MS = 250;
const HEARTBEAT_MS = 15_000;

@ApiTags('builds')
@Authorize('authenticated')
@Controller('v1/jobs')
export class BuildLogsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly logs: BuildLogs,
    private readonly records: BuildRecordsRepository,
  ) {}

  @Get(':id/logs')
  @ApiOperation({
    summary: 'The build log of a build job (text, or server-sent events while it runs)',
    description:
      'What the build printed (stdout and stderr, in order), capped at BUILD_MAX_LOG_BYTES. As `text/plain`: the log so far. With `Accept: text/event-stream`: event `log` with `{"text"}` for each piece of output as the build prints it (the pieces joined are the log), then one event `end` with `{"truncated","bytes"}`; for a finished build, the whole log at once, then `end`.',
  })
  @ApiProduces('text/plain', 'text/event-stream')
  @ApiUuidParam()
  @ApiHeader({
    name: 'Accept',
    required: false,
    description: '`text/event-stream` to follow the log while the build runs',
    schema: { type: 'string', enum: ['text/plain', 'text/event-stream'] },
  })
  @ApiOkResponse({ description: 'The log (text/plain), or a text/event-stream of `log` and `end` events', schema: { type: 'string' } })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'JOB_NOT_FOUND (no such job, another caller’s, or not a build job)' })
  @ApiResponse({ status: 503, type: ProblemDto, description: 'QUEUE_UNAVAILABLE: the live log of a running build (in Redis) cannot be read' })
  async log(
    @Param('id') id: string,
    @Headers('accept') accept: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @CurrentCaller() caller: Caller,
  ): Promise<void> {
    const job = await this.jobs.find(id);
    if (!job || !callerOwns(caller, job.caller) || job.type !== 'build') throw problems.notFound('Job', id);
    if ((accept ?? '').includes('text/event-stream')) return this.stream(job, request, reply);
    const stored = await this.records.storedLog(id);
    let text: string;
    let truncated = false;
    if (stored) {
      text = stored.log;
      truncated = stored.truncated;
    } else {
      const entries = await this.readAll(id);
      text = entries.map((e) => ('text' in e ? e.text : '')).join('');
    }
    void reply.header('content-type', 'text/plain; charset=utf-8').header('x-build-log-truncated', String(truncated)).send(text);
  }

  /** All entries of the live log, page by page. */
  private async readAll(id: string) {
    const all = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.logs.read(id, after).catch((error: unknown) => {
        throw new ProblemError(503, 'QUEUE_UNAVAILABLE', 'Redis is unavailable', `the live build log cannot be read: ${(error as Error).message}`);
      });
      all.push(...page);
      if (page.length === 0) return all;
      after = page[page.length - 1]!.id;
    }
  }

  private async stream(job: JobRow, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const stream = openEventStream(request, reply);
    const raw = stream.raw;
    // Data as JSON: one line whatever the output holds (CR, LF, text that looks like an event).
    const send = (event: string, data: unknown) => raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    try {
      const stored = await this.records.storedLog(job.id);
      if (stored) {
        if (stored.log) send('log', { text: stored.log });
        send('end', { truncated: stored.truncated, bytes: stored.bytes });
        return;
      }
      let after: string | undefined;
      let lastBeat = Date.now();
      let lastJobCheck = Date.now();
      while (!stream.closed) {
        const entries = await this.logs.read(job.id, after);
        for (const entry of entries) {
          after = entry.id;
          if ('end' in entry) {
            send('end', entry.end);
            return;
          }
          send('log', { text: entry.text });
        }
        if (entries.length > 0) continue;
        // A build that ended without an end marker (the live log expired, or the job failed before
        // building): the record has the last word.
        if (Date.now() - lastJobCheck > 2_000) {
          lastJobCheck = Date.now();
          const current = await this.jobs.find(job.id);
          const buildStep = current?.steps.find((s) => s.name === 'build');
          if (!current || current.state === 'failed' || buildStep?.state === 'succeeded' || buildStep?.state === 'failed') {
            const final = await this.records.storedLog(job.id);
            send('end', { truncated: final?.truncated ?? false, bytes: final?.bytes ?? 0 });
            return;
          }
        }
        if (Date.now() - lastBeat > HEARTBEAT_MS) {
          raw.write(': keep-alive\n\n');
          lastBeat = Date.now();
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
      }
    } catch {
      // Redis or the database went away mid-stream: end it; the client reconnects or reads the record.
    } finally {
      raw.end();
    }
  }
}
