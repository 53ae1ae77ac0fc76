import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { Caller } from '../access/caller';
import { assertRepositoryAllowed } from '../access/repository-access';
import { HostPatterns } from '../common/host-patterns';
import { ProblemError } from '../common/problem';
import { requestFingerprint } from '../common/request-fingerprint';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import type { JobRow } from '../database/database.types';
import type { ArtifactTargetFields } from '../pipeline/artifact-target-fields';
import { CallbackUrlPolicy } from '../pipeline/callback-url-policy';
import type { BuildJobInput, BuildSource } from '../pipeline/job-catalogue';
import { JobsService } from '../pipeline/jobs.service';
import { registryProblem } from '../pipeline/registry-problem';
import { canonicalRepositoryName, parseRepository, type OciRepository } from '../registry/oci-reference';
import { RegistryClient } from '../registry/registry-client';
import { BuildRecordsRepository } from './build-records.repository';
import { BuildSourcesRepository } from './build-sources.repository';
import { BuilderAvailabilityReports } from './builder-availability';
import { BUILDER_NAMES, type BuilderName, parseBuilderOptions } from './builders';
import { parseGitSource } from './git-source';
import { detectArchiveFormat, inspectSourceArchive, type SourceArchiveFormat } from './source-archive';
import { buildProblem } from './build-problems';

/** What every build request names: where the component goes, the builder and its options. */
export interface BuildRequestFields extends ArtifactTargetFields {
  builder: string;
  options: Record<string, unknown>;
  idempotencyKey?: string;
  caller: Caller;
}

/**
 * Accepts builds: checks everything the caller sent before anything is stored or queued — repository
 * (patterns, registry egress), builder (known, options valid, available on a build worker), callback URL,
 * and the source: an archive is streamed to a temporary file (hashed, bounded by BUILD_SOURCE_MAX_BYTES)
 * and read through once with every check unpacking makes (paths, links, special files, sizes, file
 * count, compression ratio), so a hostile archive is a 4xx naming its entry; a git source is checked
 * against BUILD_GIT_ALLOWED_HOSTS and must name a full commit. Then the archive is kept by digest and
 * the build job (build, push, sign, attest, verify) queued.
 */
@Injectable()
export class BuildRequestService implements OnApplicationBootstrap {
  private readonly gitHosts: HostPatterns;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobsService,
    private readonly sources: BuildSourcesRepository,
    private readonly records: BuildRecordsRepository,
    private readonly builders: BuilderAvailabilityReports,
    private readonly registry: RegistryClient,
    private readonly callbackPolicy: CallbackUrlPolicy,
  ) {
    this.gitHosts = new HostPatterns(config.builds.git.allowedHosts, 'BUILD_GIT_ALLOWED_HOSTS');
  }

  async onApplicationBootstrap(): Promise<void> {
    await sweepStaleSpools().catch(() => undefined);
  }

  /** A build from a git commit (JSON request). */
  async fromGit(request: BuildRequestFields & { git: { url: string; commit: string } }): Promise<{ job: JobRow; created: boolean }> {
    // The source is the request's own: refused before any dependency (build workers, the registry) is asked.
    let source: BuildSource;
    try {
      const git = parseGitSource(request.git, this.gitHosts);
      source = { kind: 'git', url: git.url, commit: git.commit };
    } catch (error) {
      throw buildProblem(error);
    }
    const checked = this.validate(request);
    const fingerprint = requestFingerprint('build', { ...fingerprintFields(request), source });
    if (request.idempotencyKey) {
      const replay = await this.jobs.replayOf(request.idempotencyKey, request.caller.principal, fingerprint);
      if (replay) return { job: replay, created: false };
    }
    await this.dependenciesReady(request, checked);
    return this.submit(request, checked, source, fingerprint);
  }

  /** A build from an uploaded archive (raw body or the form's file). */
  async fromArchive(
    request: BuildRequestFields & { fileName?: string; declaredLength?: number; afterBody?: () => Promise<void> },
    body: Readable,
  ): Promise<{ job: JobRow; created: boolean }> {
    let checked: ReturnType<BuildRequestService['validate']>;
    try {
      const maxBytes = this.config.builds.source.maxArchiveBytes;
      if (request.declaredLength !== undefined && request.declaredLength > maxBytes) throw sourceTooLarge(maxBytes);
      checked = this.validate(request);
      // Before the body is read (it may be large): a build no worker can run is refused now. A replay of
      // an accepted build is answered whatever the workers' state.
      const replaying = request.idempotencyKey !== undefined && (await this.jobs.findByIdempotencyKey(request.idempotencyKey, request.caller.principal)) !== undefined;
      if (!replaying) await this.dependenciesReady(request, checked);
    } catch (error) {
      body.resume();
      throw error;
    }
    await mkdir(SPOOL_DIR, { recursive: true, mode: 0o700 });
    const spool = await mkdtemp(join(SPOOL_DIR, 'upload-'));
    try {
      const archive = await this.spool(body, join(spool, 'source'), request.declaredLength);
      await request.afterBody?.();
      const source: BuildSource = { kind: 'archive', digest: archive.digest, size: archive.size, format: archive.format, fileName: request.fileName ?? null };
      const fingerprint = requestFingerprint('build', { ...fingerprintFields(request), source: { kind: 'archive', digest: archive.digest } });
      if (request.idempotencyKey) {
        const replay = await this.jobs.replayOf(request.idempotencyKey, request.caller.principal, fingerprint);
        if (replay) return { job: replay, created: false };
      }
      await inspectSourceArchive(archive.path, archive.format, this.config.builds.source).catch((error: unknown) => {
        throw buildProblem(error);
      });
      await this.sources.store(archive.path, { digest: archive.digest, size: archive.size, format: archive.format });
      return await this.submit(request, checked, source, fingerprint);
    } finally {
      await rm(spool, { recursive: true, force: true });
    }
  }

  /** What every build request must get right itself: repository (and the caller's patterns), builder, options. */
  private validate(request: BuildRequestFields): { repo: OciRepository; builder: BuilderName; options: Record<string, unknown> } {
    const repo = parseRepositoryOrProblem(request.repository);
    assertRepositoryAllowed(request.caller, canonicalRepositoryName(repo));
    if (!(BUILDER_NAMES as readonly string[]).includes(request.builder)) {
      throw new ProblemError(400, 'VALIDATION_FAILED', 'The request is not valid', `builder: must be one of ${BUILDER_NAMES.join(', ')} (GET /v1/builders lists them)`, {
        errors: [{ field: 'builder', message: `must be one of ${BUILDER_NAMES.join(', ')}` }],
      });
    }
    const builder = request.builder as BuilderName;
    try {
      return { repo, builder, options: { ...parseBuilderOptions(builder, request.options) } };
    } catch (error) {
      throw buildProblem(error);
    }
  }

  /** What a new build needs of others: its callback URL allowed, a build worker for its builder, the registry. */
  private async dependenciesReady(request: BuildRequestFields, checked: { repo: OciRepository; builder: BuilderName }): Promise<void> {
    if (request.callbackUrl) await this.callbackPolicy.assertAllowed(request.callbackUrl);
    const statuses = await this.builders.statuses().catch((error: unknown) => {
      throw new ProblemError(
        503,
        'QUEUE_UNAVAILABLE',
        'Redis is unavailable',
        `the build workers' reports cannot be read: ${(error as Error).message}`,
        {},
        { 'retry-after': '5' },
      );
    });
    const status = statuses.find((s) => s.name === checked.builder)!;
    if (!status.available) {
      throw new ProblemError(
        503,
        'BUILDER_UNAVAILABLE',
        'No build worker can run this builder',
        `${checked.builder}: ${status.reason}`,
        { builder: checked.builder },
        { 'retry-after': '30' },
      );
    }
    // The registry is checked now (egress policy, credentials), not minutes later after the build.
    await this.registry.blobExists(checked.repo, EMPTY_BLOB_DIGEST).catch((error: unknown) => {
      throw registryProblem(error);
    });
  }

  private async submit(
    request: BuildRequestFields,
    checked: { repo: OciRepository; builder: BuilderName; options: Record<string, unknown> },
    source: BuildSource,
    fingerprint: string,
  ): Promise<{ job: JobRow; created: boolean }> {
    const repository = `${checked.repo.registry}/${checked.repo.repository}`;
    const input: BuildJobInput = {
      repository,
      tag: request.tag ?? null,
      annotations: request.annotations,
      createdAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      source,
      builder: { name: checked.builder, options: checked.options },
      requestedBy: request.caller.identity,
    };
    const submitted = await this.jobs.submit({
      type: 'build',
      input,
      idempotencyKey: request.idempotencyKey,
      caller: request.caller.principal,
      callbackUrl: request.callbackUrl,
      requestHash: request.idempotencyKey ? fingerprint : undefined,
    });
    // The build step makes the record too, should this process stop right here.
    await this.records.create({ jobId: submitted.job.id, builder: checked.builder, builderOptions: checked.options, source, repository, caller: request.caller.principal });
    return submitted;
  }

  /** Streams the body to `path`, hashing and counting it; the archive's first bytes say its format. */
  private async spool(body: Readable, path: string, declaredLength: number | undefined): Promise<{ path: string; digest: string; size: number; format: SourceArchiveFormat }> {
    const maxBytes = this.config.builds.source.maxArchiveBytes;
    const hash = createHash('sha256');
    let size = 0;
    let head = Buffer.alloc(0);
    // A plain loop, not stream.pipeline: a refused body must be drained, never destroyed (a destroyed
    // request closes the socket before the 413 reaches the client).
    const file = await open(path, 'wx', 0o600);
    try {
      for await (const chunk of body) {
        const bytes = chunk as Buffer;
        size += bytes.length;
        if (size > maxBytes) throw sourceTooLarge(maxBytes);
        if (head.length < 8) head = Buffer.concat([head, bytes.subarray(0, 8 - head.length)]);
        hash.update(bytes);
        await file.write(bytes);
      }
    } catch (error) {
      body.resume();
      if (error instanceof ProblemError) throw error;
      // The spool's own failure (a full disk) is the service's, not the caller's.
      if ((error as NodeJS.ErrnoException).syscall === 'write')
        throw new ProblemError(503, 'SOURCE_SPOOL_FAILED', 'The source archive could not be kept', `the service could not write the upload: ${(error as Error).message}`);
      throw new ProblemError(400, 'UPLOAD_ABORTED', 'The upload was interrupted', `the source archive could not be read: ${(error as Error).message}`);
    } finally {
      await file.close();
    }
    if (declaredLength !== undefined && size !== declaredLength) {
      throw new ProblemError(400, 'UPLOAD_ABORTED', 'The upload was interrupted', `the body ended after ${size} of ${declaredLength} bytes`);
    }
    if (size === 0) throw new ProblemError(400, 'VALIDATION_FAILED', 'The request is not valid', 'the source archive is empty');
    const format = detectArchiveFormat(head);
    if (!format) {
      throw new ProblemError(422, 'ARCHIVE_FORMAT_UNSUPPORTED', 'The source archive cannot be read', 'send a gzip-compressed tar (.tar.gz) or a .zip archive');
    }
    return { path, digest: `sha256:${hash.digest('hex')}`, size, format };
  }
}

/** Where uploads are spooled while they are checked; what a crashed process left is removed at start. */
const SPOOL_DIR = join(tmpdir(), 'wasm-signer-source-spool');
/** An upload spooled longer than this ago belongs to no request any more (HTTP_REQUEST_TIMEOUT_MS is at most 24 h). */
const STALE_SPOOL_MS = 24 * 3600 * 1000;

/** Removes spooled uploads a stopped process left behind (never a recent one: another process may be reading it). */
export async function sweepStaleSpools(now = Date.now()): Promise<void> {
  const entries = await readdir(SPOOL_DIR).catch(() => [] as string[]);
  for (const entry of entries) {
    const path = join(SPOOL_DIR, entry);
    const info = await stat(path).catch(() => undefined);
    if (info && now - info.mtimeMs > STALE_SPOOL_MS) await rm(path, { recursive: true, force: true });
  }
}

/** sha256 of the empty blob: asking the registry about it checks access without reading anything. */
const EMPTY_BLOB_DIGEST = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * 413 for an archive over the limit. The rest of the body is drained, not read into anything; the
 * connection closes after the answer, so a client that stops sending once it has the answer (as fetch
 * does) never leaves a half-sent body in front of its next request.
 */
const sourceTooLarge = (maxBytes: number) =>
  new ProblemError(
    413,
    'PAYLOAD_TOO_LARGE',
    'The source archive is too large',
    `the source archive exceeds BUILD_SOURCE_MAX_BYTES (${maxBytes} bytes)`,
    { maxBytes },
    { connection: 'close' },
  );

function fingerprintFields(request: BuildRequestFields) {
  return {
    repository: request.repository,
    tag: request.tag ?? null,
    annotations: request.annotations,
    callbackUrl: request.callbackUrl ?? null,
    builder: request.builder,
    options: request.options,
  };
}

function parseRepositoryOrProblem(text: string): OciRepository {
  try {
    return parseRepository(text);
  } catch (error) {
    throw new ProblemError(400, 'INVALID_REFERENCE', 'Invalid repository', (error as Error).message);
  }
}
