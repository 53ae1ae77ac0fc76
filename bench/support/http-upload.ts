import { type IncomingMessage, request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * POSTs a streamed body with a Content-Length (as `curl --data-binary @file` does), and returns the
 * status and body of the answer. When the server answers before taking the whole body (an error), the
 * answer is returned and the interrupted send is not an error. The whole exchange must end within
 * `timeoutMs`.
 */
export async function postStream(
  url: string,
  headers: Record<string, string>,
  length: number,
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  const request = httpRequest(url, {
    method: 'POST',
    headers: { ...headers, 'content-length': String(length) },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  const sent = pipeline(Readable.from(source), request).then(
    () => undefined,
    (error: unknown) => error,
  );
  const response = await answered;
  let body = '';
  response.setEncoding('utf8');
  for await (const chunk of response) body += chunk as string;
  const sendError = await sent;
  const status = response.statusCode ?? 0;
  if (sendError && status < 300) throw sendError;
  return { status, body };
}
