import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import { Authorize, CurrentCaller } from '../access/authorize';
import { type Caller, callerOwns } from '../access/caller';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { problems } from '../common/problem';
import { ProblemDto } from '../common/problem.dto';
import { ApiUuidParam } from '../openapi/path-params';
import { JobDto } from './job.dto';
import { streamJobEvents } from './job-event-stream';
import { JobsService } from './jobs.service';
import { JobChanges } from './job-changes';

@ApiTags('jobs')
@Authorize('authenticated')
@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly changes: JobChanges,
  ) {}

  @Get(':id')
  @ApiOperation({ summary: 'A job: its state, per-step progress, result and error', description: 'Callers see their own jobs (admins every job); another caller’s job is a 404.' })
  @ApiUuidParam()
  @ApiOkResponse({ type: JobDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code JOB_NOT_FOUND' })
  async get(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<JobDto> {
    const job = await this.jobs.find(id);
    // Another caller's job answers as if it did not exist: its id tells nothing.
    if (!job || !callerOwns(caller, job.caller)) throw problems.notFound('Job', id);
    return JobDto.from(job);
  }

  @Get(':id/events')
  @ApiOperation({
    summary: 'The job as a server-sent event stream',
    description: 'Event `job` carries the same JSON as GET /v1/jobs/{id}: first the job as it is, then every change; the stream ends when the job succeeds or fails.',
  })
  @ApiProduces('text/event-stream')
  @ApiUuidParam()
  @ApiOkResponse({ description: 'text/event-stream of `job` events', type: JobDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code JOB_NOT_FOUND' })
  async events(@Param('id') id: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply, @CurrentCaller() caller: Caller): Promise<void> {
    const job = await this.jobs.find(id);
    if (!job || !callerOwns(caller, job.caller)) throw problems.notFound('Job', id);
    await streamJobEvents(request, reply, () => this.jobs.find(id), job, this.changes);
  }
}
