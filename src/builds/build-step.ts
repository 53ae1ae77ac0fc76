import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { AddressAllowlist } from '../common/address-policy';
import { CodedError } from '../common/coded-error';
import { HostPatterns } from '../common/host-patterns';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import type { BuildResult, CatalogueJob } from '../pipeline/job-catalogue';
import { StepError } from '../pipeline/step-error';
import { StepHandlerRegistry } from '../pipeline/step-handler.registry';
import { parseRepository } from '../registry/oci-reference';
import { RegistryClient } from '../registry/registry-client';
import { WasmFormatError, WasmInspector } from '../wasm/wasm-inspector';
import { BuildLogs } from './build-logs';
import { BuildRecordsRepository } from './build-records.repository';
import { BuildSourcesRepository } from './build-sources.repository';
import { installedBuildToolchains } from './build-toolchains';
import { type BuildWorkspace, createWorkspace, sweepStaleWorkspaces } from './build-workspace';
import { BuildFailure, type BuilderName, runBuilder } from './builders';
import type { SandboxLimits } from './build-sandbox';
import { CappedLog } from './capped-log';
import { fetchGitSource, parseGitSource } from './git-source';
import { unpackSourceArchive } from './source-archive';

/** Codes of a build that failed for good: the same source and builder would fail again. */
const PERMANENT_BUILD_CODES = new Set(['BUILD_FAILED', 'BUILD_LIMIT_EXCEEDED', 'BUILD_OUTPUT_MISSING', 'BUILD_OUTPUT_NOT_COMPONENT', 'INVALID_BUILDER_OPTIONS']);

/**
 * The build step: the source (the stored archive, or the git commit) unpacked into a fresh work
 * directory, the builder run in the sandbox, its output checked (a component, within
 * BUILD_MAX_OUTPUT_BYTES) and pushed to the repository as the layer blob; the push step then writes
 * config and manifest as for an upload. What the build printed is streamed live (GET /v1/jobs/{id}/logs)
 * and kept, with its digest, in the build record. The work directory is removed whatever happens, and
 * a worker removes at start what a crashed one left behind.
 */
@Injectable()
export class BuildStep implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger('builds');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly handlers: StepHandlerRegistry,
    private readonly sources: BuildSourcesRepository,
    private readonly records: BuildRecordsRepository,
    private readonly logs: BuildLogs,
    private readonly registry: RegistryClient,
  ) {}

  onModuleInit(): void {
    this.handlers.register({ jobType: 'build', step: 'build', run: (job, context) => this.build(job, context.attempt, context.signal) });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.role === 'api' || this.config.builds.worker === 'off') return;
    const removed = await sweepStaleWorkspaces(this.config.builds.workDir).catch((error: unknown) => {
      this.logger.warn({ err: error }, 'could not sweep stale build work directories');
      return [];
    });
    if (removed.length > 0) this.logger.log({ removed }, 'removed work directories of builds a stopped worker left');
  }

  async build(job: CatalogueJob<'build'>, attempt: number, signal: AbortSignal): Promise<BuildResult> {
    const { input } = job;
    const builder = input.builder.name as BuilderName;
    await this.records.create({ jobId: job.id, builder, builderOptions: input.builder.options, source: input.source, repository: input.repository, caller: job.caller });
    // A new attempt: what an earlier one recorded (its log, its end) is not this build's any more.
    await this.records.attemptStarted(job.id);
    // The sandbox keeps BUILD_MAX_LOG_BYTES of what the build prints (and says when it drops the rest);
    // the room above it is for the step's own lines.
    const log = new CappedLog(this.config.builds.limits.maxLogBytes + 16 * 1024, (text) => void this.logs.append(job.id, text));
    let sandboxTruncated = false;
    const say = (line: string) => log.add(Buffer.from(`==> ${line}\n`));
    const startedAt = new Date();
    await this.logs.begin(job.id, attempt);
    // A worker that cannot make a work directory (BUILD_WORK_DIR) is this worker's problem, not the build's.
    const workspace = await createWorkspace(this.config.builds.workDir, job.id).catch((error: unknown) => {
      void this.logs.end(job.id, { truncated: false, bytes: 0 });
      throw StepError.transient('BUILD_WORK_DIR_UNAVAILABLE', `this worker cannot make a build work directory: ${(error as Error).message}`, undefined, error);
    });
    let recordedSource: BuildResult['build']['source'] =
      input.source.kind === 'archive'
        ? { kind: 'archive', digest: input.source.digest, fileName: input.source.fileName }
        : { kind: 'git', url: input.source.url, commit: input.source.commit, tree: '' };
    const outcome: { toolchain: BuildResult['build']['toolchain']; cargoLockDigest: string | null; wasmDigest: string | null } = {
      toolchain: [],
      cargoLockDigest: null,
      wasmDigest: null,
    };
    // What the build record keeps of a build that ran (or failed): its source, toolchain, log, component.
    const record = (kept: ReturnType<CappedLog['finish']>, finishedAt: Date) =>
      this.records.finished(job.id, {
        ...outcome,
        source: recordedSource,
        log: kept.text,
        logDigest: kept.digest,
        logBytes: kept.bytes,
        logTruncated: kept.truncated,
        startedAt,
        finishedAt,
      });
    try {
      recordedSource = await this.fetchSource(job, workspace, say, signal);
      const toolchains = await installedBuildToolchains(this.config.builds.rustToolchainPrefix);
      say(`building with ${builder} in a sandbox`);
      const built = await runBuilder({
        builder,
        options: input.builder.options as never,
        workspace,
        toolchains,
        limits: sandboxLimits(this.config.builds.limits),
        signal,
        onLog: (chunk) => log.add(chunk),
      });
      outcome.cargoLockDigest = built.cargoLockDigest ?? null;
      outcome.toolchain = built.toolchain;
      say(`built with ${built.toolchain.map((t) => `${t.name} ${t.version}`).join(', ')} in ${(built.sandbox.durationMs / 1000).toFixed(1)} s`);
      sandboxTruncated = built.sandbox.logTruncated;
      const wasm = await this.pushOutput(job, built.wasmPath, say, signal);
      outcome.wasmDigest = wasm.digest;
      const finishedAt = new Date();
      const kept = { ...log.finish(), truncated: log.truncated || sandboxTruncated };
      await record(kept, finishedAt);
      await this.logs.end(job.id, { truncated: kept.truncated, bytes: kept.bytes });
      return {
        build: {
          builder,
          toolchain: outcome.toolchain,
          source: recordedSource,
          cargoLockDigest: outcome.cargoLockDigest,
          logDigest: kept.digest,
          logBytes: kept.bytes,
          logTruncated: kept.truncated,
          startedAt: startedAt.toISOString(),
          finishedAt: finishedAt.toISOString(),
          limits: { ...this.config.builds.limits },
          title: wasm.title,
          wasm: wasm.facts,
        },
      };
    } catch (error) {
      const failure = asBuildStepError(error);
      say(`build failed: ${failure.code}: ${failure.message}`);
      const kept = { ...log.finish(), truncated: log.truncated || sandboxTruncated || (error instanceof BuildFailure && error.sandbox?.logTruncated === true) };
      await record(kept, new Date()).catch(() => undefined);
      await this.logs.end(job.id, { truncated: kept.truncated, bytes: kept.bytes });
      throw failure;
    } finally {
      // Removed after the step answers (a large target/ takes a while): the next step need not wait. A
      // worker that dies first leaves it to the sweep at the next start.
      void workspace.dispose().catch((error: unknown) => this.logger.warn({ err: error, jobId: job.id }, 'could not remove a build work directory'));
    }
  }

  /** The source into the workspace: the stored archive unpacked, or the git commit checked out. */
  private async fetchSource(job: CatalogueJob<'build'>, workspace: BuildWorkspace, say: (line: string) => void, signal: AbortSignal): Promise<BuildResult['build']['source']> {
    const { source } = job.input;
    if (source.kind === 'archive') {
      say(`unpacking the source archive ${source.digest} (${source.size} bytes, ${source.format})`);
      const archive = join(workspace.path, `source.${source.format}`);
      await this.sources.writeTo(source.digest, archive);
      const summary = await unpackSourceArchive(archive, source.format, workspace.sourceDir, this.config.builds.source);
      await rm(archive, { force: true });
      say(`unpacked ${summary.files} files (${summary.unpackedBytes} bytes)`);
      return { kind: 'archive', digest: source.digest, fileName: source.fileName };
    }
    say(`fetching ${source.url} at ${source.commit}`);
    const git = this.config.builds.git;
    const parsed = parseGitSource({ url: source.url, commit: source.commit }, new HostPatterns(git.allowedHosts, 'BUILD_GIT_ALLOWED_HOSTS'));
    const fetched = await fetchGitSource(parsed, workspace.sourceDir, {
      timeoutMs: git.timeoutMs,
      maxBytes: git.maxBytes,
      addressAllowlist: new AddressAllowlist(git.privateAllowlist, 'BUILD_GIT_PRIVATE_ALLOWLIST'),
      maxFiles: this.config.builds.source.maxFiles,
      signal,
    });
    say(`checked out ${fetched.commit} (tree ${fetched.tree}, ${fetched.bytes} bytes)`);
    return { kind: 'git', url: source.url, commit: fetched.commit, tree: fetched.tree };
  }

  /** The build's output: checked to be a component, then pushed as the layer blob. */
  private async pushOutput(job: CatalogueJob<'build'>, wasmPath: string, say: (line: string) => void, signal: AbortSignal) {
    const maxBytes = this.config.builds.limits.maxOutputBytes;
    const { size } = await stat(wasmPath);
    if (size > maxBytes) throw StepError.permanent('BUILD_LIMIT_EXCEEDED', `the build produced ${size} bytes of WebAssembly, over BUILD_MAX_OUTPUT_BYTES (${maxBytes})`);
    const inspector = new WasmInspector({ maxBytes });
    const repo = parseRepository(job.input.repository);
    const output = createReadStream(wasmPath);
    let blob: { digest: string; size: number };
    try {
      blob = await this.registry.pushBlobStream(repo, output, {
        maxBytes,
        signal,
        onChunk: (chunk) => inspector.push(chunk),
        beforeCommit: async () => {
          const inspection = inspector.finish();
          if (inspection.kind !== 'component') {
            throw StepError.permanent(
              'BUILD_OUTPUT_NOT_COMPONENT',
              'the build produced a core WebAssembly module, not a component: build for wasm32-wasip2, or export a WIT world (componentize-js) so the output is a component',
            );
          }
        },
      });
    } finally {
      // A push that failed half-way must not keep the file (and its disk space) open.
      output.destroy();
    }
    const inspection = inspector.finish();
    say(`built a component: ${blob.digest} (${blob.size} bytes), exports ${inspection.exports.join(', ') || 'nothing'}; pushed to ${job.input.repository}`);
    const title = `${basename(job.input.repository.split('/').pop() ?? 'component')}.wasm`;
    return { digest: blob.digest, title, facts: { digest: blob.digest, ...inspection, size: blob.size } };
  }
}

/** The sandbox's limits from the configuration: no single file larger than the whole work directory may hold. */
function sandboxLimits(limits: AppConfig['builds']['limits']): SandboxLimits {
  const { maxOutputBytes: _output, ...sandbox } = limits;
  return { ...sandbox, maxFileBytes: limits.maxWorkDirBytes };
}

/** A build failure as the pipeline reads it: failed builds and refused sources are permanent. */
function asBuildStepError(error: unknown): CodedError {
  if (error instanceof WasmFormatError) return StepError.permanent('BUILD_OUTPUT_INVALID', `the build's output is not valid WebAssembly: ${error.message}`);
  if (error instanceof CodedError) {
    // This worker cannot build now; another one (or this one, repaired) may.
    if (error.code === 'BUILDER_UNAVAILABLE' || error.code === 'SANDBOX_UNAVAILABLE') return StepError.transient(error.code, error.message, undefined, error);
    // Stopped because this worker is shutting down: the build runs again on another (or this one, restarted).
    if (error.code === 'BUILD_CANCELLED') return StepError.transient('WORKER_STOPPING', `${error.message}: the worker stopped; the build is retried`, undefined, error);
    if (PERMANENT_BUILD_CODES.has(error.code) || error.code.startsWith('ARCHIVE_') || error.code.startsWith('GIT_')) {
      return error.transient ? error : StepError.permanent(error.code, error.message, error);
    }
    return error;
  }
  return StepError.transient('INTERNAL_ERROR', error instanceof Error ? error.message : String(error), undefined, error);
}
