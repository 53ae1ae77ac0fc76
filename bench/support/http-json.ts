/**
 * A light JSON client for request-rate benchmarks: POSTs over node:http with keep-alive connections
 * (at most `maxSockets` to the service), so that the load generator spends little CPU per request and
 * every request reuses a connection. Answers are read whole and parsed.
 */
import { Agent, request } from 'node:http';

export interface JsonAnswer {
  status: number;
  /** The parsed body, or the raw text when it is not JSON. */
  body: unknown;
  text: string;
}

export class JsonClient {
  private readonly agent: Agent;

  constructor(
    private readonly baseUrl: string,
    maxSockets: number,
    private readonly headers: Record<string, string> = {},
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  post(path: string, payload: unknown, timeoutMs: number): Promise<JsonAnswer> {
    const body = Buffer.from(JSON.stringify(payload));
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.baseUrl}${path}`,
        {
          method: 'POST',
          agent: this.agent,
          headers: { ...this.headers, 'content-type': 'application/json', 'content-length': String(body.length), accept: 'application/json' },
          signal: AbortSignal.timeout(timeoutMs),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.once('error', reject);
          response.once('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // not JSON: the text is the body
            }
            resolve({ status: response.statusCode ?? 0, body: parsed, text });
          });
        },
      );
      req.once('error', reject);
      req.end(body);
    });
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}
