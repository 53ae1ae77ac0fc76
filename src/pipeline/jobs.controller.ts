import { Controller, Get, Param } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { problems } from '../common/problem';
import { ProblemDto } from '../common/problem.dto';
import { JobDto } from './job.dto';
import { JobsService } from './jobs.service';

@ApiTags('jobs')
@Controller('v1/jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  @Get(':id')
  @ApiOperation({ summary: 'A job: its state, per-step progress, result and error' })
  @ApiOkResponse({ type: JobDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code JOB_NOT_FOUND' })
  async get(@Param('id') id: string): Promise<JobDto> {
    const job = await this.jobs.find(id);
    if (!job) throw problems.notFound('Job', id);
    return JobDto.from(job);
  }
}
