import type { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { ProblemError } from '../common/problem';
import type { JobRow } from '../database/database.types';
import { JobsService } from '../pipeline/jobs.service';
import { CallbackUrlPolicy } from '../pipeline/callback-url-policy';
import { RegistryError } from '../registry/registry-error';
import { registryProblem } from '../pipeline/registry-problem';
import { canonicalRepositoryName, parseRepository } from '../registry/oci-reference';
import { assertRepositoryAllowed } from '../access/repository-access';
import type { Caller } from '../access/caller';
import { RegistryClient } from '../registry/registry-client';
import { sanitizeLayerTitle } from './oci-wasm-layout';
import type { PublishJobInput } from './publish-job';
import { type UploadIdentity, digestOfBody, uploadFingerprint } from './upload-fingerprint';
import { WasmFormatError, WasmInspector } from '../wasm/wasm-inspector';

export interface UploadRequest {
  repository: string;
  tag?: string;
  annotations: Record<string, string>;
  callbackUrl?: string;
  fileName?: string;
  /** Content-Length when the client sent one: a body that ends short of it is truncated. */
  declaredLength?: number;
  idempotencyKey?: string;
  /** Who asks: their repository patterns are checked before a byte is pushed, and they own the job. */
  caller: Caller;
  /**
   * Called when the body has ended, before the blob is committed; throwing refuses the upload with
   * nothing committed. A form reads its remaining parts here (fields after the file are refused).
   */
  afterBody?: () => Promise<void>;
}

/**
 * Accepts a .wasm upload: streams it straight into the registry as the layer blob while its digest is
 * computed and its binary structure checked, so the file is never held in memory or on disk. Only a
 * valid, complete file is committed; anything else cancels the upload and nothing is pushed. Then the
 * publish job (push, sign, verify) is queued.
 */
@Injectable()
export class ArtifactUploadService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: RegistryClient,
    private readonly jobs: JobsService,
    private readonly callbackPolicy: CallbackUrlPolicy,
  ) {}

  async upload(request: UploadRequest, body: Readable): Promise<{ job: JobRow; created: boolean }> {
    const repo = parseRepositoryOrProblem(request.repository);
    try {
      assertRepositoryAllowed(request.caller, canonicalRepositoryName(repo));
    } catch (error) {
      body.resume();
      throw error;
    }
    const maxBytes = this.config.uploads.maxBytes;
    if (request.declaredLength !== undefined && request.declaredLength > maxBytes) {
      body.resume();
      throw tooLarge(maxBytes);
    }
    // Refuse a callback URL before any byte is uploaded.
    if (request.callbackUrl)
      await this.callbackPolicy.assertAllowed(request.callbackUrl).catch((error: unknown) => {
        body.resume();
        throw error;
      });
    const identity = (wasmDigest: string) => uploadIdentity(request, `${repo.registry}/${repo.repository}`, wasmDigest);
    if (request.idempotencyKey) {
      const replay = await this.replay(request, body, identity);
      if (replay) return { job: replay, created: false };
    }

    const inspector = new WasmInspector({ maxBytes });
    let blob: { digest: string; size: number };
    try {
      blob = await this.registry.pushBlobStream(repo, body, {
        maxBytes,
        onChunk: (chunk) => inspector.push(chunk),
        beforeCommit: async (size) => {
          if (request.declaredLength !== undefined && size !== request.declaredLength) {
            throw new WasmFormatError('WASM_TRUNCATED', `the upload ended after ${size} of ${request.declaredLength} bytes`);
          }
          inspector.finish();
          await request.afterBody?.();
        },
      });
    } catch (error) {
      // Whatever failed, the rest of the body is read and dropped so that the answer reaches the client
      // on its connection (a request body destroyed mid-way closes the socket: an empty reply).
      body.resume();
      throw uploadProblem(error, maxBytes);
    }
    const inspection = inspector.finish();

    const input: PublishJobInput = {
      repository: `${repo.registry}/${repo.repository}`,
      tag: request.tag ?? null,
      annotations: request.annotations,
      title: sanitizeLayerTitle(request.fileName ?? repo.repository.split('/').pop()!),
      createdAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      wasm: { digest: blob.digest, ...inspection, size: blob.size },
      requestedBy: request.caller.identity,
    };
    return this.jobs.submit({
      type: 'publish',
      input,
      idempotencyKey: request.idempotencyKey,
      caller: request.caller.principal,
      callbackUrl: request.callbackUrl,
      requestHash: request.idempotencyKey ? uploadFingerprint(identity(blob.digest)) : undefined,
    });
  }

  /**
   * A replayed Idempotency-Key: the job it created when this is the same request, bytes included. The
   * body is hashed as it arrives (bounded by MAX_UPLOAD_BYTES) and never pushed again; another body or
   * other fields under the same key is a 422. Undefined when the key is new (the body is left unread).
   */
  private async replay(request: UploadRequest, body: Readable, identity: (wasmDigest: string) => UploadIdentity): Promise<JobRow | undefined> {
    const existing = await this.jobs.findByIdempotencyKey(request.idempotencyKey!, request.caller.principal);
    if (!existing) return undefined;
    const maxBytes = this.config.uploads.maxBytes;
    const wasmDigest = await digestOfBody(body, {
      maxBytes,
      declaredLength: request.declaredLength,
      tooLarge: () => tooLarge(maxBytes),
      truncated: (size) => new WasmFormatError('WASM_TRUNCATED', `the upload ended after ${size} of ${request.declaredLength ?? 'the announced'} bytes`),
    }).catch((error: unknown) => {
      throw uploadProblem(error, maxBytes);
    });
    return this.jobs.replayOf(request.idempotencyKey!, request.caller.principal, uploadFingerprint(identity(wasmDigest)));
  }
}

function uploadIdentity(request: UploadRequest, repository: string, wasmDigest: string): UploadIdentity {
  return { repository, tag: request.tag ?? null, annotations: request.annotations, callbackUrl: request.callbackUrl ?? null, wasmDigest };
}

export function parseRepositoryOrProblem(text: string) {
  try {
    return parseRepository(text);
  } catch (error) {
    throw new ProblemError(400, 'INVALID_REFERENCE', 'Invalid repository', (error as Error).message);
  }
}

const tooLarge = (maxBytes: number) => new ProblemError(413, 'PAYLOAD_TOO_LARGE', 'The upload is too large', `the .wasm exceeds MAX_UPLOAD_BYTES (${maxBytes} bytes)`);

function uploadProblem(error: unknown, maxBytes: number): Error {
  if (error instanceof WasmFormatError) {
    return new ProblemError(422, error.code, 'Not a valid WebAssembly binary', error.message, error.offset === undefined ? {} : { offset: error.offset });
  }
  if (error instanceof RegistryError) return error.code === 'UPLOAD_TOO_LARGE' ? tooLarge(maxBytes) : registryProblem(error);
  if (error instanceof ProblemError) return error;
  if ((error as NodeJS.ErrnoException)?.code === 'ECONNRESET' || (error as Error)?.name === 'AbortError') {
    return new ProblemError(400, 'UPLOAD_ABORTED', 'The upload was interrupted', 'the request body ended before it was complete');
  }
  return error as Error;
}
