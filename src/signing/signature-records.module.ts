import { Module } from '@nestjs/common';
import { SignatureRecordQueries } from './signature-record-queries';
import { SignatureRecordsController } from './signature-records.controller';

/** The signature records API (api role): listings, one record, its certificate. */
@Module({ controllers: [SignatureRecordsController], providers: [SignatureRecordQueries], exports: [SignatureRecordQueries] })
export class SignatureRecordsModule {}
