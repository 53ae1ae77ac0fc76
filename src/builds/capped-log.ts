import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';

/**
 * A build's log, kept up to a byte limit: what fits is kept (and passed on as text, split on UTF-8
 * character boundaries), the rest counted. Its digest is over the kept text's UTF-8 bytes: exactly
 * what GET /v1/jobs/{id}/logs returns once the build ended.
 */
export class CappedLog {
  private readonly parts: string[] = [];
  private readonly decoder = new StringDecoder('utf8');
  private kept = 0;
  private total = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly onText: (text: string) => void = () => undefined,
  ) {}

  add(chunk: Buffer): void {
    this.total += chunk.length;
    const room = this.maxBytes - this.kept;
    if (room <= 0) return;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.kept += part.length;
    // NUL cannot be stored in a text column: shown as U+FFFD, here already, so the digest is over what is stored.
    const text = this.decoder.write(part).replaceAll('\u0000', '\ufffd');
    if (!text) return;
    this.parts.push(text);
    this.onText(text);
  }

  get truncated(): boolean {
    return this.total > this.kept;
  }

  /** The kept text, its digest, and how many bytes the build printed in all. */
  finish(): { text: string; digest: string; bytes: number; truncated: boolean } {
    const rest = this.decoder.end().replaceAll('\u0000', '\ufffd');
    if (rest && !this.truncated) this.parts.push(rest);
    const text = this.parts.join('');
    return { text, digest: `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`, bytes: this.total, truncated: this.truncated };
  }
}
