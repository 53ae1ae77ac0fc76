import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FAULTS_PATH, FaultInjector, corruptJson } from './fault-injection';

/** Marks a health response as coming from this stack (callers tell it apart from a foreign server). */
export const STACK_HEALTH_MARKER = 'wasm-signer-local-stack';
export const HEALTH_PATH = '/healthz';
/**
 * `GET /__requests`: how many requests each route has had since the service started, keyed
 * `<METHOD> <route path>` (a regular-expression route by its source; requests no route takes count under
 * `<METHOD> (no route)`), faulted ones included, control and health requests not. Tests and benchmarks
 * read it before and after some work to count the Fulcio, Rekor and TSA calls the work made.
 */
export const REQUESTS_PATH = '/__requests';

export interface HttpRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  /** Path parameters captured by the route's regular expression. */
  readonly params: readonly string[];
  /** Reads the whole request body (bounded by the service's body limit). */
  body(): Promise<Buffer>;
}

export interface HttpResponse {
  readonly status: number;
  readonly body?: string | Buffer;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export type RouteHandler = (request: HttpRequest) => Promise<HttpResponse> | HttpResponse;

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT';
  /** Exact path, or a regular expression anchored by the caller whose groups become `params`. */
  readonly path: string | RegExp;
  readonly handler: RouteHandler;
}

export interface ServiceOptions {
  /** Service name, reported by the health endpoint and in errors. */
  readonly name: string;
  readonly routes: readonly Route[];
  /** Health answers 200 only once this returns true (503 "starting" before). */
  readonly isReady?: () => boolean;
  /** Largest accepted request body, bytes (default 4 MiB). */
  readonly maxBodyBytes?: number;
  /** Builds the JSON error body for a status and message (each service mimics its upstream's shape). */
  readonly errorBody?: (status: number, message: string) => unknown;
  readonly onError?: (error: unknown) => void;
}

export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function jsonResponse(status: number, value: unknown, headers?: Record<string, string>): HttpResponse {
  return { status, body: `${JSON.stringify(value)}\n`, contentType: 'application/json', headers };
}

/**
 * A small HTTP/1.1 service on node:http: a route table, bounded bodies, JSON errors, a `GET /healthz`
 * readiness endpoint and faults on command (`/__faults`, see fault-injection.ts).
 */
export class HttpService {
  private readonly server: Server;
  private readonly maxBodyBytes: number;
  private readonly faults = new FaultInjector();
  private readonly requestCounts = new Map<string, number>();

  constructor(private readonly options: ServiceOptions) {
    this.maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        options.onError?.(error);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    this.server.keepAliveTimeout = 5_000;
  }

  get name(): string {
    return this.options.name;
  }

  /** Listens on host:port; rejects with a message naming the service when the port is taken. */
  async listen(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        this.server.off('listening', onListening);
        if (error.code === 'EADDRINUSE') {
          reject(new Error(`${this.options.name}: ${host}:${port} is already in use (another local stack running?)`, { cause: error }));
        } else {
          reject(error);
        }
      };
      const onListening = () => {
        this.server.off('error', onError);
        resolve();
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(port, host);
    });
  }

  /** The bound port (useful when listening on port 0 in tests). */
  get port(): number {
    const address = this.server.address() as AddressInfo | null;
    if (!address) throw new Error(`${this.options.name} is not listening`);
    return address.port;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://localhost');
    let response: HttpResponse;
    const control = url.pathname === FAULTS_PATH || url.pathname === HEALTH_PATH || url.pathname === REQUESTS_PATH;
    if (!control) this.countRequest(method, url.pathname);
    const fault = control ? undefined : this.faults.take(method, url.pathname);
    try {
      if (url.pathname === REQUESTS_PATH) {
        response = method === 'GET' ? jsonResponse(200, { requests: Object.fromEntries(this.requestCounts) }) : this.error(405, `method ${method} not allowed`);
      } else if (url.pathname === FAULTS_PATH) {
        const body = method === 'POST' ? await readJsonBody({ method, url, headers: req.headers, params: [], body: () => readBody(req, 64 * 1024) }) : undefined;
        const answer = this.faults.control(method, req, body);
        response = jsonResponse(answer.status, answer.body);
      } else {
        if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
        response = fault?.status !== undefined && !fault.afterHandling ? this.error(fault.status, 'injected fault') : await this.dispatch(method, url, req);
      }
    } catch (error) {
      if (error instanceof HttpStatusError) {
        response = this.error(error.status, error.message);
      } else {
        this.options.onError?.(error);
        response = this.error(500, error instanceof Error ? error.message : String(error));
      }
    }
    if (fault?.status !== undefined && fault.afterHandling) response = this.error(fault.status, 'injected fault (after handling the request)');
    if (fault?.corrupt && response.body !== undefined) response = { ...response, body: corruptJson(response.body, fault.corrupt) };
    if (fault?.status !== undefined && fault.retryAfterSeconds !== undefined)
      response = { ...response, headers: { ...response.headers, 'Retry-After': String(fault.retryAfterSeconds) } };
    // Drain whatever the handler did not read so the connection can be reused.
    req.resume();
    const body = response.body ?? '';
    res.writeHead(response.status, {
      ...(response.contentType ? { 'Content-Type': response.contentType } : {}),
      'Content-Length': Buffer.byteLength(body),
      ...response.headers,
    });
    res.end(method === 'HEAD' ? undefined : body);
  }

  private countRequest(method: string, pathname: string): void {
    const route = this.options.routes.find((r) => matchPath(r.path, pathname) && (r.method === method || (r.method === 'GET' && method === 'HEAD')));
    const key = `${method} ${route ? (typeof route.path === 'string' ? route.path : route.path.source) : '(no route)'}`;
    this.requestCounts.set(key, (this.requestCounts.get(key) ?? 0) + 1);
  }

  private async dispatch(method: string, url: URL, req: IncomingMessage): Promise<HttpResponse> {
    if (url.pathname === HEALTH_PATH && (method === 'GET' || method === 'HEAD')) {
      const ready = this.options.isReady?.() ?? true;
      return jsonResponse(ready ? 200 : 503, {
        status: ready ? 'ok' : 'starting',
        service: this.options.name,
        stack: STACK_HEALTH_MARKER,
      });
    }
    let pathMatched = false;
    for (const route of this.options.routes) {
      const params = matchPath(route.path, url.pathname);
      if (!params) continue;
      pathMatched = true;
      if (route.method !== method && !(route.method === 'GET' && method === 'HEAD')) continue;
      return route.handler({
        method,
        url,
        headers: req.headers,
        params,
        body: () => readBody(req, this.maxBodyBytes),
      });
    }
    return pathMatched ? this.error(405, `method ${method} not allowed`) : this.error(404, `no route for ${url.pathname}`);
  }

  private error(status: number, message: string): HttpResponse {
    const body = this.options.errorBody ? this.options.errorBody(status, message) : { code: status, message };
    return jsonResponse(status, body);
  }
}

function matchPath(path: string | RegExp, pathname: string): string[] | undefined {
  if (typeof path === 'string') return path === pathname ? [] : undefined;
  const match = path.exec(pathname);
  return match ? match.slice(1) : undefined;
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    throw new HttpStatusError(413, `request body larger than ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) throw new HttpStatusError(413, `request body larger than ${limit} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON request body, or throws a 400 naming the problem. */
export async function readJsonBody(request: HttpRequest): Promise<unknown> {
  const body = await request.body();
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new HttpStatusError(400, 'request body is not valid JSON');
  }
}
