import { Injectable, OnModuleInit } from '@nestjs/common';
import type { CatalogueJob } from '../pipeline/job-catalogue';
import { StepError } from '../pipeline/step-error';
import { StepHandlerRegistry } from '../pipeline/step-handler.registry';
import { OCI_MANIFEST_MEDIA_TYPE } from '../registry/oci-media-types';
import { parseRepository } from '../registry/oci-reference';
import { RegistryClient } from '../registry/registry-client';
import { reservedTagReason } from '../registry/reserved-tags';
import { ArtifactRecords } from './artifact-records.repository';
import { writeWasmArtifact } from './write-wasm-artifact';
import type { PublishJobInput, PushResult } from './publish-job';

/** What the push step writes: a .wasm already in the repository as a blob, with its facts. */
type PushInput = Pick<PublishJobInput, 'repository' | 'tag' | 'annotations' | 'createdAt' | 'title' | 'wasm'>;

/**
 * The push step of a publish job: the .wasm layer was streamed to the registry during the upload;
 * this writes the wasm config, the manifest (by digest), then the tag. Every write is idempotent: the
 * same job always produces the same bytes, and present blobs are skipped.
 */
@Injectable()
export class PushStep implements OnModuleInit {
  constructor(
    private readonly registry: RegistryClient,
    private readonly artifacts: ArtifactRecords,
    private readonly handlers: StepHandlerRegistry,
  ) {}

  onModuleInit(): void {
    this.handlers.register({ jobType: 'publish', step: 'push', run: (job, context) => this.push(job, job.input, context.signal) });
    // A build's component: its blob was pushed by the build step, which also inspected it.
    this.handlers.register({
      jobType: 'build',
      step: 'push',
      run: (job, context) => {
        const built = job.result?.build;
        if (!built) throw StepError.permanent('BUILD_RESULT_MISSING', `job ${job.id} has no built component to push`);
        const { repository, tag, annotations, createdAt } = job.input;
        return this.push(job, { repository, tag, annotations, createdAt, title: built.title, wasm: built.wasm }, context.signal);
      },
    });
  }

  async push(job: CatalogueJob<'publish' | 'build'>, input: PushInput, signal: AbortSignal): Promise<PushResult> {
    const repo = parseRepository(input.repository);
    const created = new Date(input.createdAt);
    // Uploads refuse reserved tags; a job queued before they did must not overwrite signatures either.
    const reserved = input.tag ? reservedTagReason(input.tag) : undefined;
    if (reserved !== undefined) throw StepError.permanent('RESERVED_TAG', reserved);
    const layer = await this.registry.blobExists(repo, input.wasm.digest, { signal });
    if (!layer.exists) {
      throw StepError.permanent('WASM_BLOB_MISSING', `the uploaded .wasm (${input.wasm.digest}) is no longer in ${input.repository}; upload it again`);
    }
    const { config, manifest } = await writeWasmArtifact(
      this.registry,
      repo,
      { wasm: { digest: input.wasm.digest, size: input.wasm.size, inspection: input.wasm }, title: input.title, created, annotations: input.annotations, tag: input.tag },
      signal,
    );

    const artifact = await this.artifacts.recordForJob({
      jobId: job.id,
      repository: input.repository,
      tag: input.tag,
      manifestDigest: manifest.digest,
      wasmDigest: input.wasm.digest,
      wasmSize: input.wasm.size,
      wasmKind: input.wasm.kind,
      config: config.json,
      annotations: input.annotations,
      caller: job.caller,
    });
    return {
      repository: input.repository,
      reference: `${input.repository}@${manifest.digest}`,
      manifestDigest: manifest.digest,
      manifestMediaType: OCI_MANIFEST_MEDIA_TYPE,
      manifestSize: manifest.size,
      wasmDigest: input.wasm.digest,
      tag: input.tag,
      artifactId: artifact.id,
    };
  }
}
