import { Global, Module } from '@nestjs/common';
import { DatabaseService } from './database.service';
import { NamedLocks } from './named-lock';
import { SignatureRecordQueries } from './signature-record-queries';

@Global()
@Module({ providers: [DatabaseService, NamedLocks, SignatureRecordQueries], exports: [DatabaseService, NamedLocks, SignatureRecordQueries] })
export class DatabaseModule {}
