import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { ReadinessIndicators } from './readiness.indicators';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly readiness: ReadinessIndicators,
  ) {}

  @Get('live')
  @HealthCheck()
  @ApiOperation({
    summary: 'Liveness: the process answers',
    description: 'Checks nothing else, so that a failing dependency never gets a healthy process restarted. Open (no credential).',
  })
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({
    summary: 'Readiness: Redis and the database answer and the process is not shutting down (503 otherwise)',
    description: 'The body names each check and its status, so a 503 says which dependency is down. Open (no credential).',
  })
  ready(): Promise<HealthCheckResult> {
    return this.health.check([() => this.readiness.accepting(), ...this.readiness.registered(), () => this.readiness.database()]);
  }
}
