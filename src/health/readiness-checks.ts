import { Injectable } from '@nestjs/common';

/**
 * A dependency readiness depends on: resolves when it answers (with details shown under its name, if
 * any), throws (with why) when not.
 */
export type ReadinessCheck = () => Promise<void | Record<string, unknown>>;

/**
 * The dependencies `/health/ready` checks besides the database: the layers above register theirs (the
 * engine its Redis connection) at start, so that health, a platform module, imports none of them.
 */
@Injectable()
export class ReadinessChecks {
  private readonly checks = new Map<string, ReadinessCheck>();

  register(name: string, check: ReadinessCheck): void {
    if (this.checks.has(name)) throw new Error(`readiness check "${name}" is registered twice`);
    this.checks.set(name, check);
  }

  entries(): [string, ReadinessCheck][] {
    return [...this.checks.entries()];
  }
}
