import { Module } from '@nestjs/common';
import { ArtifactRecords } from './artifact-records.repository';
import { ArtifactUploadService } from './artifact-upload.service';
import { ArtifactsController } from './artifacts.controller';
import { PushStep } from './push-step';

/** Uploads (api role). */
@Module({ controllers: [ArtifactsController], providers: [ArtifactUploadService] })
export class ArtifactsApiModule {}

/** The push step (worker role). */
@Module({ providers: [PushStep, ArtifactRecords] })
export class ArtifactsWorkerModule {}
