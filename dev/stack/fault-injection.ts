import type { IncomingMessage } from 'node:http';

/**
 * Faults on command, so that tests can show how the service behaves when Fulcio, Rekor or the TSA
 * misbehave (development and tests only: this file is part of the local stack, never of the service).
 *
 * Every stack service answers `POST /__faults` (from loopback only) with a fault to apply to the next
 * matching requests, `POST /__faults {"clear":true}` to drop them all, and `GET /__faults` to list
 * what is still pending. A fault applies to `count` requests (default 1) whose method and path prefix
 * match; faults are used up in the order they were added. The stack is shared by every test file that
 * runs against it, so a test that injects faults should run a private stack (STACK_DIR and
 * STACK_*_PORT, as ensureLocalStack allows) or scope its faults by `path`.
 */
export interface FaultSpec {
  /** Answer with this status: instead of handling the request, or (with `afterHandling`) after it. */
  readonly status?: number;
  /** Sent as `Retry-After` (seconds) with `status`. */
  readonly retryAfterSeconds?: number;
  /** Wait this long before handling (a slow answer). */
  readonly delayMs?: number;
  /**
   * Handle the request (its effects happen: a Rekor entry is stored) and then answer `status` instead
   * of the real answer, like a server that failed after committing.
   */
  readonly afterHandling?: boolean;
  /**
   * In a JSON answer, alter one character of every base64 string held by a property of this name, at
   * any depth (e.g. `signedEntryTimestamp`): an answer that looks right but does not verify.
   */
  readonly corrupt?: string;
  /** Only requests whose path starts with this (default: every path but the control and health ones). */
  readonly path?: string;
  /** Only requests with this method (default: any). */
  readonly method?: string;
  /** How many matching requests this fault applies to (default 1). */
  readonly count?: number;
}

export const FAULTS_PATH = '/__faults';

interface PendingFault extends FaultSpec {
  remaining: number;
}

export interface FaultAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** The faults pending on one service. */
export class FaultInjector {
  private faults: PendingFault[] = [];

  /** Handles a request to the control endpoint. */
  control(method: string, request: IncomingMessage, body: unknown): FaultAnswer {
    if (!isLoopback(request.socket.remoteAddress)) return { status: 403, body: { message: 'faults are accepted from loopback only' } };
    if (method === 'GET') return { status: 200, body: { faults: this.faults } };
    if (method !== 'POST') return { status: 405, body: { message: `method ${method} not allowed` } };
    const spec = body as (FaultSpec & { clear?: boolean }) | null;
    if (spec?.clear === true) {
      this.faults = [];
      return { status: 200, body: { faults: [] } };
    }
    const problem = invalid(spec);
    if (problem) return { status: 400, body: { message: problem } };
    this.faults.push({ ...spec!, remaining: spec!.count ?? 1 });
    return { status: 201, body: { faults: this.faults } };
  }

  /** The fault to apply to this request, if any (used up by one). */
  take(method: string, path: string): FaultSpec | undefined {
    const fault = this.faults.find((f) => (!f.method || f.method === method) && (!f.path || path.startsWith(f.path)));
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults = this.faults.filter((f) => f !== fault);
    return fault;
  }
}

/** Alters one character of every base64 string under a property named `name`. */
export function corruptJson(body: string | Buffer, name: string): string | Buffer {
  let value: unknown;
  try {
    value = JSON.parse(body.toString());
  } catch {
    return body;
  }
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    return Object.fromEntries(
      Object.entries(node).map(([key, child]) => [
        key,
        key === name && typeof child === 'string'
          ? flipBase64(child)
          : key === name && Array.isArray(child)
            ? child.map((c) => (typeof c === 'string' ? flipBase64(c) : c))
            : walk(child),
      ]),
    );
  };
  return `${JSON.stringify(walk(value))}\n`;
}

/** Another base64 character in the middle, so the text still decodes but to other bytes. */
function flipBase64(text: string): string {
  if (text.length < 4) return text;
  const at = Math.floor(text.length / 2);
  const replacement = text[at] === 'A' ? 'B' : 'A';
  return `${text.slice(0, at)}${replacement}${text.slice(at + 1)}`;
}

function invalid(spec: (FaultSpec & { clear?: boolean }) | null): string | undefined {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return 'expected a JSON object';
  const known = ['status', 'retryAfterSeconds', 'delayMs', 'afterHandling', 'corrupt', 'path', 'method', 'count', 'clear'];
  const unknown = Object.keys(spec).filter((key) => !known.includes(key));
  if (unknown.length > 0) return `unknown fields: ${unknown.join(', ')}`;
  if (spec.status !== undefined && !(Number.isInteger(spec.status) && spec.status >= 200 && spec.status <= 599)) return 'status must be an HTTP status';
  if (spec.afterHandling && spec.status === undefined) return 'afterHandling needs a status';
  if (spec.delayMs !== undefined && !(Number.isInteger(spec.delayMs) && spec.delayMs >= 0 && spec.delayMs <= 600_000)) return 'delayMs must be 0-600000';
  if (spec.count !== undefined && !(Number.isInteger(spec.count) && spec.count >= 1)) return 'count must be a positive integer';
  if (spec.retryAfterSeconds !== undefined && !(Number.isInteger(spec.retryAfterSeconds) && spec.retryAfterSeconds >= 0)) return 'retryAfterSeconds must be a non-negative integer';
  if (spec.status === undefined && spec.delayMs === undefined && spec.corrupt === undefined) return 'a fault needs status, delayMs or corrupt';
  return undefined;
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}
