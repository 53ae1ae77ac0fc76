import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { type FaultSpec, FaultInjector } from '../../dev/stack/fault-injection';

/** What a request through the proxy met. */
export interface ProxiedRequest {
  method: string;
  path: string;
  /** The status sent back (forwarded or injected), `reset` when the proxy hung up on it. */
  outcome: number | 'reset';
  injected: boolean;
}

/**
 * An HTTP proxy in front of one dependency (a registry, Fulcio, Rekor, the TSA), that fails on command
 * like the local stack's services do (a FaultSpec: status with Retry-After, a delay, counted and matched
 * by method and path prefix), and can also go down: its port then refuses connections (ECONNREFUSED)
 * until it comes up again. A delayed request is still forwarded once the delay is over, whether or not
 * the client waited: a slow server that handles the request after the client gave up. Requests keep
 * their Host header, so a registry's upload locations name the proxy.
 */
export class FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  private readonly faults = new FaultInjector();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private downOn: { method?: string; path?: string; onDown: () => void } | undefined;
  /** Requests being delayed or forwarded. */
  private inFlight = 0;

  private constructor(
    private readonly target: URL,
    readonly port: number,
  ) {}

  /** A proxy to `targetOrigin` (e.g. `http://127.0.0.1:5000`) on a free loopback port. */
  static async start(targetOrigin: string): Promise<FaultProxy> {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const proxy = new FaultProxy(new URL(targetOrigin), port);
    await proxy.up();
    return proxy;
  }

  /** `127.0.0.1:port`. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The proxy's URL for a URL of the target (same path). */
  proxied(targetUrl: string): string {
    const url = new URL(targetUrl);
    return `http://${this.host}${url.pathname === '/' ? '' : url.pathname}${url.search}`;
  }

  /** Fails the next matching requests as `fault` says (see dev/stack/fault-injection.ts). */
  inject(fault: FaultSpec): void {
    const answer = this.faults.control('POST', { socket: { remoteAddress: '127.0.0.1' } } as IncomingMessage, fault);
    if (answer.status !== 201) throw new Error(`fault not accepted: ${JSON.stringify(answer.body)}`);
  }

  /** Drops pending faults and a pending goDownOn. */
  clear(): void {
    this.faults.control('POST', { socket: { remoteAddress: '127.0.0.1' } } as IncomingMessage, { clear: true });
    this.downOn = undefined;
  }

  /** Faults not used up yet. */
  pending(): FaultSpec[] {
    return (this.faults.control('GET', { socket: { remoteAddress: '127.0.0.1' } } as IncomingMessage, null).body as { faults: FaultSpec[] }).faults;
  }

  /** Stops listening and drops every connection: new connections are refused. */
  async down(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /**
   * Goes down when the first request matching `method` and `path` (a prefix) arrives: that request's
   * connection is dropped unanswered. Resolves when that happened.
   */
  goDownOn(match: { method?: string; path?: string }): Promise<void> {
    return new Promise((resolve) => {
      this.downOn = { ...match, onDown: resolve };
    });
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((request, response) => void this.handle(request, response));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  get isUp(): boolean {
    return this.server !== undefined;
  }

  /** Resolves once no request is being delayed or forwarded (a late request has reached the target). */
  async settled(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  async close(): Promise<void> {
    this.clear();
    await this.down();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const path = request.url ?? '/';
    const record = (outcome: number | 'reset', injected: boolean) => this.requests.push({ method, path, outcome, injected });
    const trigger = this.downOn;
    if (trigger && (!trigger.method || trigger.method === method) && (!trigger.path || path.startsWith(trigger.path))) {
      this.downOn = undefined;
      record('reset', true);
      request.socket.destroy();
      await this.down();
      trigger.onDown();
      return;
    }
    const fault = this.faults.take(method, path);
    this.inFlight++;
    try {
      const body = await readBody(request);
      if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      if (fault?.status !== undefined) {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
        const message = `injected fault: HTTP ${fault.status}`;
        response.writeHead(fault.status, headers).end(JSON.stringify({ message, errors: [{ code: fault.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message }] }));
        record(fault.status, true);
        return;
      }
      const status = await this.forward(method, path, request.headers, body, response);
      record(status, fault !== undefined);
    } finally {
      this.inFlight--;
    }
  }

  private forward(method: string, path: string, headers: IncomingMessage['headers'], body: Buffer, response: ServerResponse): Promise<number | 'reset'> {
    return new Promise((resolve) => {
      const upstream = httpRequest(
        { host: this.target.hostname, port: this.target.port, method, path, headers: { ...headers, 'content-length': String(body.length) } },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            const status = answer.statusCode ?? 502;
            if (!response.destroyed) {
              const { 'transfer-encoding': _chunked, ...rest } = answer.headers;
              // A HEAD answer's Content-Length is the resource's, not that of the (empty) body.
              const length = method === 'HEAD' ? {} : { 'content-length': String(Buffer.concat(chunks).length) };
              response.writeHead(status, { ...rest, ...length }).end(Buffer.concat(chunks));
            }
            resolve(status);
          });
          answer.on('error', () => resolve('reset'));
        },
      );
      upstream.on('error', () => {
        if (!response.destroyed) response.socket?.destroy();
        resolve('reset');
      });
      upstream.end(body);
    });
  }
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', () => resolve(Buffer.concat(chunks)));
    request.on('close', () => resolve(Buffer.concat(chunks)));
  });
}
