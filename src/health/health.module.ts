import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { ReadinessChecks } from './readiness-checks';
import { ReadinessIndicators } from './readiness.indicators';

/** Global: the modules above register their readiness checks (ReadinessChecks) without importing this one. */
@Global()
@Module({
  imports: [TerminusModule.forRoot({ logger: false, errorLogStyle: 'json' })],
  controllers: [HealthController],
  providers: [ReadinessIndicators, ReadinessChecks],
  exports: [ReadinessChecks],
})
export class HealthModule {}
