import { Module } from '@nestjs/common';
import { SignatureRecordsController } from './signature-records.controller';

/** The signature records API (api role): listings, one record, its certificate. */
@Module({ controllers: [SignatureRecordsController] })
export class SignatureRecordsModule {}
