import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { BATCH_BYTES, IdleDeadline, hashingUploadBody } from './hashing-upload-body';

async function drain(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const tooLarge = (max: number) => new Error(`too large: ${max}`);

describe('hashingUploadBody', () => {
  it('passes bytes through, hashing and counting them, skipping empty chunks', async () => {
    const parts = [Buffer.from('hello '), Buffer.alloc(0), Buffer.from('world')];
    const seen: number[] = [];
    const body = hashingUploadBody(Readable.from(parts), { tooLarge, onChunk: (chunk) => void seen.push(chunk.byteLength) });
    expect(body.result()).toBeUndefined();
    expect((await drain(body.stream)).toString()).toBe('hello world');
    expect(seen).toEqual([6, 5]);
    expect(body.result()).toEqual({ digest: `sha256:${createHash('sha256').update('hello world').digest('hex')}`, size: 11 });
    expect(body.failure()).toBeUndefined();
  });

  it('pulls from the source only as the consumer reads, one batch at a time, and passes the chunks on uncopied', async () => {
    let produced = 0;
    const chunk = 64 * 1024;
    const made: Buffer[] = [];
    async function* source() {
      for (let i = 0; i < 100; i++) {
        produced++;
        const bytes = Buffer.alloc(chunk, i);
        made.push(bytes);
        yield bytes;
      }
    }
    const body = hashingUploadBody(source(), { tooLarge });
    const reader = body.stream.getReader();
    const first = await reader.read();
    await new Promise((resolve) => setTimeout(resolve, 10));
    // One batch was pulled: the consumer holds its first chunk, the rest of the batch is queued, no more.
    expect(produced).toBe(BATCH_BYTES / chunk);
    // The very bytes the source made, not a copy of them (nor a join of several).
    expect(first.value).toBe(made[0]);
    for (let i = 1; i < BATCH_BYTES / chunk; i++) expect((await reader.read()).value).toBe(made[i]);
    expect(produced).toBe(BATCH_BYTES / chunk);
    const next = await reader.read();
    expect(next.value).toBe(made[BATCH_BYTES / chunk]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(produced).toBe((2 * BATCH_BYTES) / chunk);
    await reader.cancel();
  });

  it('ends the body before the chunk that passes maxBytes, records the error and stops reading the source without destroying it', async () => {
    const source = Readable.from([Buffer.alloc(6), Buffer.alloc(6), Buffer.alloc(6)]);
    const body = hashingUploadBody(source, { tooLarge, maxBytes: 10 });
    expect(await drain(body.stream)).toHaveLength(6);
    expect((body.failure()?.error as Error).message).toBe('too large: 10');
    expect(body.result()).toBeUndefined();
    await new Promise((resolve) => setImmediate(resolve));
    // An HTTP request body destroyed here would take its socket, and the error answer, with it.
    expect(source.destroyed).toBe(false);
    let rest = 0;
    for await (const chunk of source) rest += (chunk as Buffer).byteLength;
    expect(rest).toBe(6); // the chunk after the one that crossed the limit is still the owner's to drain
  });

  it("records the caller's own error from onChunk, unchanged", async () => {
    const mine = new Error('not a wasm component');
    const body = hashingUploadBody(Readable.from([Buffer.from('x')]), {
      tooLarge,
      onChunk: async () => {
        throw mine;
      },
    });
    expect(await drain(body.stream)).toHaveLength(0);
    expect(body.failure()?.error).toBe(mine);
    expect(body.result()).toBeUndefined();
  });

  it('records a failing source', async () => {
    async function* failing() {
      yield Buffer.from('ab');
      throw new Error('client went away');
    }
    const body = hashingUploadBody(failing(), { tooLarge });
    expect((await drain(body.stream)).toString()).toBe('ab');
    expect((body.failure()?.error as Error).message).toBe('client went away');
  });

  it('refuses chunks that are not bytes', async () => {
    async function* numbers() {
      yield 42 as unknown as Uint8Array;
    }
    const body = hashingUploadBody(numbers(), { tooLarge });
    await drain(body.stream);
    expect((body.failure()?.error as Error).message).toMatch(/yielded number/);
  });
});

describe('IdleDeadline', () => {
  afterEach(() => jest.useRealTimers());

  it('aborts only after a pause longer than the timeout', () => {
    jest.useFakeTimers();
    const deadline = new IdleDeadline(40, () => new Error('idle'));
    deadline.touch();
    for (let i = 0; i < 4; i++) {
      jest.advanceTimersByTime(30);
      deadline.touch();
    }
    expect(deadline.signal.aborted).toBe(false);
    jest.advanceTimersByTime(39);
    expect(deadline.signal.aborted).toBe(false);
    jest.advanceTimersByTime(2);
    expect(deadline.signal.aborted).toBe(true);
    expect((deadline.signal.reason as Error).message).toBe('idle');
    deadline.stop();
  });
});
