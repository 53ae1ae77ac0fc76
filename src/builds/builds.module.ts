import { Module } from '@nestjs/common';
import { BuildLogs } from './build-logs';
import { BuildLogsController } from './build-logs.controller';
import { BuildRecordsRepository } from './build-records.repository';
import { BuildRequestService } from './build-request.service';
import { BuildSourcesRepository } from './build-sources.repository';
import { BuildStep } from './build-step';
import { BuilderAvailabilityReports } from './builder-availability';
import { BuildsController } from './builds.controller';

/** What the build API and the build step share: records, stored sources, live logs, builder reports. */
@Module({
  providers: [BuildLogs, BuildRecordsRepository, BuildSourcesRepository, BuilderAvailabilityReports],
  exports: [BuildLogs, BuildRecordsRepository, BuildSourcesRepository, BuilderAvailabilityReports],
})
export class BuildsModule {}

/** Build requests, records, builders and logs (api role). */
@Module({ imports: [BuildsModule], controllers: [BuildsController, BuildLogsController], providers: [BuildRequestService] })
export class BuildsApiModule {}

/** The build step (worker role; it takes builds only with BUILD_WORKER). */
@Module({ imports: [BuildsModule], providers: [BuildStep] })
export class BuildsWorkerModule {}
