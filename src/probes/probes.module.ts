import { Module } from '@nestjs/common';
import { ProbeSteps } from './probe-steps';
import { ProbesController } from './probes.controller';

/** Controller for the API role. */
@Module({ controllers: [ProbesController] })
export class ProbesApiModule {}

/** Step handlers for the worker role. */
@Module({ providers: [ProbeSteps] })
export class ProbesWorkerModule {}
