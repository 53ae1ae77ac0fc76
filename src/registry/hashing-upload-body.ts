import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/**
 * The body of a streamed blob upload: pulls chunks from the caller's source only as fast as the socket
 * takes them (a queue of zero batches, so at most the batch in flight, about 1 MiB, is held), hashes and
 * counts them as they pass, lets the caller inspect each one, and enforces a size limit. Chunks go on to
 * the socket as they came, never copied or joined; nothing is buffered whole.
 */

export type UploadSource = AsyncIterable<Uint8Array> | Readable;

export interface HashingBodyOptions {
  maxBytes?: number;
  /** Sees each chunk before it is sent; throwing (or rejecting) ends the body there and records the error. */
  onChunk?: (chunk: Uint8Array) => void | Promise<void>;
  /** Called whenever a chunk passes (drives the idle deadline). */
  onActivity?: () => void;
  /** The error for a source longer than maxBytes. */
  tooLarge: (maxBytes: number) => Error;
}

export interface HashingBody {
  stream: ReadableStream<Uint8Array>;
  /** Digest and size once the source is exhausted; undefined before. */
  result(): { digest: string; size: number } | undefined;
  /**
   * What stopped the body early, if anything did: the caller's onChunk error, the size limit, a failing
   * source. The stream itself then just ends: whoever sends it must check this before committing.
   */
  failure(): { error: unknown } | undefined;
  /** Stops reading the source (idempotent); a Readable is left undestroyed, for its owner. */
  close(): Promise<void>;
}

export function hashingUploadBody(source: UploadSource, options: HashingBodyOptions): HashingBody {
  // A Readable's own iterator destroys it when iteration stops early. When the source is an HTTP request
  // body, that destroys the socket, and the caller's error answer never reaches the client (an empty
  // reply). The source belongs to the caller: stopping only stops reading; the caller drains or drops it.
  const iterator = source instanceof Readable ? source.iterator({ destroyOnReturn: false }) : (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const hash = createHash('sha256');
  let size = 0;
  let result: { digest: string; size: number } | undefined;
  let failure: { error: unknown } | undefined;
  let closed = false;

  const close = async () => {
    if (closed) return;
    closed = true;
    await iterator.return?.().catch(() => undefined);
  };

  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // Each pull passes on the source's chunks as they are (no copy) until about BATCH_BYTES went
        // through, then waits for the sender to ask again: the loop (hashing, inspection, size checks)
        // runs in bursts rather than once per (often 16-64 KiB) chunk, and at most one batch is queued.
        let batched = 0;
        try {
          for (;;) {
            const next = await iterator.next();
            if (next.done) {
              closed = true;
              result = { digest: `sha256:${hash.digest('hex')}`, size };
              controller.close();
              return;
            }
            const chunk = toBytes(next.value);
            if (chunk.byteLength === 0) continue;
            if (options.maxBytes !== undefined && size + chunk.byteLength > options.maxBytes) throw options.tooLarge(options.maxBytes);
            if (options.onChunk) await options.onChunk(chunk);
            hash.update(chunk);
            size += chunk.byteLength;
            options.onActivity?.();
            controller.enqueue(chunk);
            batched += chunk.byteLength;
            if (batched >= BATCH_BYTES) return;
          }
        } catch (error) {
          // End the body cleanly rather than erroring it: the request then completes, the registry
          // answers with the session's current state, and the upload can be cancelled properly. (A
          // request cut off mid-body leaves distribution 2.8 with a session it refuses to cancel: its
          // state token no longer matches the bytes it stored.) failure() tells the caller what happened;
          // the chunks accepted before it are already queued.
          failure ??= { error };
          controller.close();
          await close();
        }
      },
      async cancel() {
        await close();
      },
    },
    { highWaterMark: 0 },
  );

  return { stream, result: () => result, failure: () => failure, close };
}

/** Bytes queued at most before they are written (plus the chunk that crosses the mark). */
export const BATCH_BYTES = 1024 * 1024;

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value);
  throw new TypeError(`upload source yielded ${typeof value}, expected Uint8Array chunks`);
}

/** Aborts when no progress was reported for `timeoutMs`; `reason` makes the abort reason. */
export class IdleDeadline {
  readonly #controller = new AbortController();
  readonly #timeoutMs: number;
  readonly #reason: () => unknown;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(timeoutMs: number, reason: () => unknown) {
    this.#timeoutMs = timeoutMs;
    this.#reason = reason;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** (Re)starts the countdown. */
  touch(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#controller.abort(this.#reason()), this.#timeoutMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
