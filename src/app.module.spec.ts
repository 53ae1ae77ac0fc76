import type { AppConfig } from './config/config.schema';
import { workerModules } from './app.module';
import { WebhooksWorkerModule } from './webhooks/webhooks.module';
import { BuildsWorkerModule } from './builds/builds.module';

describe('workerModules', () => {
  const builds = (worker: AppConfig['builds']['worker']) => ({ builds: { worker } }) as Pick<AppConfig, 'builds'>;

  it('gives a build node (BUILD_WORKER=only) no webhook deliveries, and every other worker all of them', () => {
    expect(workerModules(builds('only'))).not.toContain(WebhooksWorkerModule);
    expect(workerModules(builds('only'))).toContain(BuildsWorkerModule);
    for (const worker of ['off', 'also'] as const) expect(workerModules(builds(worker))).toContain(WebhooksWorkerModule);
  });
});
