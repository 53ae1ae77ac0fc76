/**
 * Requests the private registry served, counted from its log (distribution writes one
 * `msg="response completed"` line per request, with the method), between two moments.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export class RegistryRequestCounter {
  private offset = 0;

  constructor(private readonly logFile: string) {}

  /** Starts counting from the current end of the log. */
  start(): void {
    this.offset = statSync(this.logFile).size;
  }

  /** Requests by method since start(). */
  count(): Record<string, number> {
    const end = statSync(this.logFile).size;
    const buffer = Buffer.alloc(end - this.offset);
    const fd = openSync(this.logFile, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, this.offset);
    } finally {
      closeSync(fd);
    }
    const counts: Record<string, number> = {};
    for (const line of buffer.toString('utf8').split('\n')) {
      if (!line.includes('msg="response completed"')) continue;
      const method = /http\.request\.method=(\w+)/.exec(line)?.[1] ?? '?';
      counts[method] = (counts[method] ?? 0) + 1;
    }
    return counts;
  }
}
