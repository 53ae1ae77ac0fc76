import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { DatabaseService } from '../database/database.service';
import { LifecycleState } from '../lifecycle/lifecycle-state';
import { ReadinessChecks } from './readiness-checks';

const TIMEOUT_MS = 2_000;

/** What /health/ready checks: the registered dependencies (Redis) and the database answer, and the process is not draining. */
@Injectable()
export class ReadinessIndicators {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly checks: ReadinessChecks,
    private readonly databaseService: DatabaseService,
    private readonly lifecycle: LifecycleState,
  ) {}

  /** One indicator per registered dependency. */
  registered(): Array<() => Promise<HealthIndicatorResult>> {
    return this.checks.entries().map(([name, check]) => async () => {
      const indicator = this.indicators.check(name);
      try {
        const details = await withTimeout(check(), TIMEOUT_MS);
        return details ? indicator.up(details) : indicator.up();
      } catch (error) {
        return indicator.down({ message: (error as Error).message });
      }
    });
  }

  async database(): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check('database');
    try {
      await this.databaseService.ping(TIMEOUT_MS);
      return indicator.up();
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }

  accepting(): HealthIndicatorResult {
    const indicator = this.indicators.check('lifecycle');
    return this.lifecycle.draining ? indicator.down({ message: 'draining for shutdown' }) : indicator.up();
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
