import { Global, Module } from '@nestjs/common';
import { DatabaseService } from './database.service';
import { NamedLocks } from './named-lock';

@Global()
@Module({ providers: [DatabaseService, NamedLocks], exports: [DatabaseService, NamedLocks] })
export class DatabaseModule {}
