import { Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import { Authorize } from '../access/authorize';
import { ApiAcceptedResponse, ApiBody, ApiHeader, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { IDEMPOTENCY_KEY_SCHEMA, parseIdempotencyKey } from '../common/idempotency-key';
import { ProblemDto } from '../common/problem.dto';
import { JobDto } from '../pipeline/job.dto';
import { JobsService } from '../pipeline/jobs.service';
import { CreateProbeDto } from './probe.dto';

@ApiTags('operations')
@Authorize('admin')
@Controller('v1/probes')
export class ProbesController {
  constructor(private readonly jobs: JobsService) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Send a probe job through every step queue',
    description: 'The job result names the worker that took each step and when: a check that workers consume every queue.',
  })
  @ApiHeader({ name: 'Idempotency-Key', schema: IDEMPOTENCY_KEY_SCHEMA, required: false, description: 'Replaying a key returns the job it created' })
  @ApiBody({
    type: CreateProbeDto,
    required: false,
    description: 'Optional: no body probes every step queue',
    examples: {
      quick: { summary: 'Each step answers at once', value: { holdMs: 0 } },
      hold: { summary: 'Each step holds its worker for a second', value: { holdMs: 1000 } },
    },
  })
  @ApiAcceptedResponse({ type: JobDto, headers: { Location: { description: 'URL of the job', schema: { type: 'string' } } } })
  @ApiServiceUnavailableResponse({ type: ProblemDto, description: 'code QUEUE_UNAVAILABLE or SHUTTING_DOWN' })
  async create(
    @Body() body: CreateProbeDto = {},
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<JobDto> {
    const { job } = await this.jobs.submit({
      type: 'probe',
      input: { holdMs: body?.holdMs ?? 0 },
      idempotencyKey: parseIdempotencyKey(idempotencyKey),
    });
    void reply.header('location', `/v1/jobs/${job.id}`);
    return JobDto.from(job);
  }
}
