import { Controller, Get, Header } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Authorize } from '../access/authorize';
import { MetricsService } from './metrics.service';

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Authorize('metrics:read', { onlyWhen: 'metricsRequireAuth' })
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiProduces('text/plain')
  @ApiOperation({ summary: 'Prometheus metrics of this process', description: 'Open unless METRICS_REQUIRE_AUTH is on; then it needs a credential with the scope metrics:read.' })
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
