import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CliError, exitCodeOf, ExitCode, ProblemResponseError, UnreachableError, UsageError } from './exit-codes';
import { ServiceClient } from './service-client';

describe('exit statuses', () => {
  it('maps each kind of failure to its status', () => {
    expect(exitCodeOf(new UsageError('x'))).toBe(2);
    expect(exitCodeOf(new UnreachableError('x'))).toBe(3);
    expect(exitCodeOf(new ProblemResponseError(403, 'SCOPE_MISSING', 'Forbidden', 'no'))).toBe(1);
    expect(exitCodeOf(new CliError('x', ExitCode.Failed))).toBe(1);
    expect(exitCodeOf(new Error('unexpected'))).toBe(1);
  });
});

describe('ServiceClient failures', () => {
  let server: Server;
  let url: string;
  const seen: { authorization?: string; path?: string }[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      seen.push({ authorization: request.headers.authorization, path: request.url });
      if (request.url?.startsWith('/v1/slow')) return; // never answers
      if (request.url?.startsWith('/v1/problem')) {
        response.writeHead(422, { 'content-type': 'application/problem+json' });
        response.end(JSON.stringify({ type: 'about:blank', title: 'Unprocessable', status: 422, code: 'WASM_BAD_MAGIC', detail: 'not wasm' }));
        return;
      }
      if (request.url?.startsWith('/v1/html')) {
        response.writeHead(502, { 'content-type': 'text/html' });
        response.end('<html>bad gateway</html>');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const client = (base = url, timeoutMs = 2_000) => new ServiceClient(base, async () => 'the-token', timeoutMs);

  it('sends the credential and reads JSON', async () => {
    await expect(client().json('GET', 'v1/ok', { query: { a: 'b', skipped: undefined } })).resolves.toEqual({ ok: true });
    expect(seen.at(-1)).toEqual({ authorization: 'Bearer the-token', path: '/v1/ok?a=b' });
  });

  it('a problem answer is a ProblemResponseError carrying its code (exit 1); another error body is summarised by its status', async () => {
    const problem = await client()
      .json('GET', 'v1/problem')
      .catch((error: unknown) => error);
    expect(problem).toBeInstanceOf(ProblemResponseError);
    expect(problem).toMatchObject({ status: 422, code: 'WASM_BAD_MAGIC', message: '422 WASM_BAD_MAGIC: not wasm', exitCode: 1 });
    await expect(client().json('GET', 'v1/html')).rejects.toMatchObject({ status: 502, code: undefined, exitCode: 1 });
  });

  it('a refused connection, an unresolvable name and a service that does not answer in time are unreachable (exit 3)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(client(`http://127.0.0.1:${port}`).json('GET', 'v1/ok')).rejects.toMatchObject({ exitCode: 3, message: expect.stringContaining('ECONNREFUSED') });
    await expect(client('http://wasm-signer.invalid').json('GET', 'v1/ok')).rejects.toMatchObject({ exitCode: 3, message: expect.stringContaining('not resolved') });
    const slow = await client(url, 300)
      .json('GET', 'v1/slow')
      .catch((error: unknown) => error);
    expect(slow).toBeInstanceOf(UnreachableError);
    expect((slow as Error).message).toContain('did not answer within');
  });
});
