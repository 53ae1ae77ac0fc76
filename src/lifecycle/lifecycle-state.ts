import { Injectable } from '@nestjs/common';

/** Whether this process is draining for shutdown: readiness turns red and new jobs are refused. */
@Injectable()
export class LifecycleState {
  private drainingSince: Date | undefined;

  beginDraining(): void {
    this.drainingSince ??= new Date();
  }

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }
}
