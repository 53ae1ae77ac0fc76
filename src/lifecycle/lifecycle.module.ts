import { Global, Module } from '@nestjs/common';
import { LifecycleState } from './lifecycle-state';

@Global()
@Module({ providers: [LifecycleState], exports: [LifecycleState] })
export class LifecycleModule {}
