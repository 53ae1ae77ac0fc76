import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type IORedis from 'ioredis';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { LazyProducerConnection } from '../common/redis-connection';
import type { ToolchainComponent } from '../pipeline/job-catalogue';
import { BUILDER_NAMES, type BuilderAvailability, type BuilderName, probeBuilders } from './builders';
import { installedBuildToolchains } from './build-toolchains';
import { createWorkspace } from './build-workspace';

/** How often a build worker reports what it can build, and how long a report counts. */
const REPORT_INTERVAL_MS = 15_000;
const REPORT_TTL_SECONDS = 45;

/** What one build worker reported. */
interface WorkerReport {
  instanceId: string;
  reportedAt: string;
  builders: BuilderAvailability[];
}

/** A builder as GET /v1/builders shows it: available on how many build workers, with which toolchain, or why not. */
export interface BuilderStatus {
  name: BuilderName;
  available: boolean;
  /** Build workers that reported this builder available in the last 45 s. */
  workers: number;
  toolchain: ToolchainComponent[];
  /** Why no worker can run it: no build worker, or what the workers said. */
  reason: string | null;
}

/**
 * Which builders the build workers can run. A worker started with BUILD_WORKER probes its sandbox and
 * toolchains at start and every 15 s, and reports to Redis under a key that expires; the API (any
 * replica) reads the live reports, so it can refuse a build no worker could run, and say why.
 */
@Injectable()
export class BuilderAvailabilityReports implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('builders');
  private readonly connection: LazyProducerConnection;
  private timer: NodeJS.Timeout | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.connection = new LazyProducerConnection(config.redis.url, (error) => this.logger.debug({ error: error.message }, 'Redis connection error'));
  }

  private redis(): Promise<IORedis> {
    return this.connection.get();
  }

  /** One hash of the workers' latest reports: read with one HGETALL, never a scan of the keyspace. */
  private get key(): string {
    return `${this.config.queues.prefix}:builders`;
  }

  /** Build workers start reporting (the first report is awaited, so a build accepted right after start finds it). */
  async onApplicationBootstrap(): Promise<void> {
    if (this.config.role === 'api' || this.config.builds.worker === 'off') return;
    await this.report();
    this.timer = setInterval(() => void this.report(), REPORT_INTERVAL_MS);
    this.timer.unref();
  }

  private async report(): Promise<void> {
    try {
      const workspaceProblem = await this.workspaceProblem();
      const probed = await probeBuilders(await installedBuildToolchains(this.config.builds.rustToolchainPrefix));
      // A build that cannot get a work directory cannot run, whatever the toolchains say.
      const builders = workspaceProblem ? probed.map((b) => ({ ...b, available: false, reason: workspaceProblem })) : probed;
      const report: WorkerReport = { instanceId: this.config.instanceId, reportedAt: new Date().toISOString(), builders };
      await (await this.redis()).hset(this.key, this.config.instanceId, JSON.stringify(report));
      for (const builder of builders) if (!builder.available) this.logger.warn({ builder: builder.name, reason: builder.reason }, 'builder unavailable on this worker');
    } catch (error) {
      this.logger.warn({ err: error }, 'could not report the builders of this worker');
    }
  }

  /** Why this worker cannot make a build's work directory (BUILD_WORK_DIR), if it cannot. */
  private async workspaceProblem(): Promise<string | null> {
    try {
      const workspace = await createWorkspace(this.config.builds.workDir, `availability-${randomUUID()}`);
      await workspace.dispose();
      return null;
    } catch (error) {
      return `BUILD_WORK_DIR: ${(error as Error).message}`;
    }
  }

  /** Every builder, with what the live build workers report of it. */
  async statuses(): Promise<BuilderStatus[]> {
    const reports = await this.liveReports();
    return BUILDER_NAMES.map((name) => {
      const entries = reports.flatMap((report) => report.builders.filter((b) => b.name === name));
      const available = entries.filter((b) => b.available);
      const reasons = [...new Set(entries.filter((b) => !b.available).map((b) => b.reason ?? 'unavailable'))];
      return {
        name,
        available: available.length > 0,
        workers: available.length,
        toolchain: (available[0] ?? entries[0])?.toolchain ?? [],
        reason:
          available.length > 0
            ? null
            : reports.length === 0
              ? 'no build worker is running: start a worker with BUILD_WORKER=also or only (none reported in the last 45 s)'
              : reasons.join('; '),
      };
    });
  }

  /** The reports of the last 45 s; older ones (a worker that died without saying so) are dropped. */
  private async liveReports(): Promise<WorkerReport[]> {
    const redis = await this.redis();
    const entries = await redis.hgetall(this.key);
    const live: WorkerReport[] = [];
    const stale: string[] = [];
    for (const [instance, value] of Object.entries(entries)) {
      let report: WorkerReport | undefined;
      try {
        report = JSON.parse(value) as WorkerReport;
      } catch {
        report = undefined;
      }
      if (report && Date.now() - Date.parse(report.reportedAt) < REPORT_TTL_SECONDS * 1000) live.push(report);
      else stale.push(instance);
    }
    if (stale.length > 0) await redis.hdel(this.key, ...stale).catch(() => undefined);
    return live;
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    // A worker that stops is no longer a place builds can go.
    if (this.connection.opened && this.config.role !== 'api' && this.config.builds.worker !== 'off') {
      await (await this.redis()).hdel(this.key, this.config.instanceId).catch(() => undefined);
    }
    await this.connection.end();
  }
}
