import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { requestFingerprint } from '../common/request-fingerprint';

/** What makes two uploads the same request: where it goes, how it is tagged and annotated, who is called, which bytes. */
export interface UploadIdentity {
  /** `registry/repository`, as parsed (so `Host/x` and `host/x` are one repository). */
  repository: string;
  tag: string | null;
  annotations: Record<string, string>;
  callbackUrl: string | null;
  /** sha256 of the .wasm, `sha256:<hex>`. */
  wasmDigest: string;
}

/** The fingerprint of an upload (jobs.request_hash of a publish job created under an Idempotency-Key). */
export const uploadFingerprint = (upload: UploadIdentity): string => requestFingerprint('publish', upload);

/**
 * The sha256 of a replayed upload's body, read through without pushing it anywhere: a replay must carry
 * the same bytes as the request that created the job. Hashing is incremental per chunk, so memory stays
 * bounded; `tooLarge` is thrown past maxBytes (the original could not have been larger), `truncated`
 * when the body ends short of its Content-Length.
 */
export function digestOfBody(body: Readable, limits: { maxBytes: number; declaredLength?: number; tooLarge: () => Error; truncated: (size: number) => Error }): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let size = 0;
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      outcome();
    };
    // Listening to 'data' keeps the body flowing after a failure too, so the rest drains and the answer
    // can still be sent on this connection.
    body.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limits.maxBytes) return settle(() => reject(limits.tooLarge()));
      hash.update(chunk);
    });
    body.once('error', (error) => settle(() => reject(error)));
    body.once('end', () =>
      settle(() => {
        // A multipart file part cut off at its size limit ends normally, flagged truncated.
        if ((body as Readable & { truncated?: boolean }).truncated) return reject(limits.tooLarge());
        if (limits.declaredLength !== undefined && size !== limits.declaredLength) return reject(limits.truncated(size));
        resolve(`sha256:${hash.digest('hex')}`);
      }),
    );
    body.once('close', () => settle(() => reject(limits.truncated(size))));
  });
}
