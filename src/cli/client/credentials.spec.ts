import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { credentialFromEnvironment } from './credentials';

describe('credentialFromEnvironment', () => {
  let server: Server;
  let requestUrl: string;
  const requests: { url?: string; authorization?: string }[] = [];

  beforeAll(async () => {
    // A stand-in for the GitHub Actions token endpoint: answers {"value": "<token for the audience>"} to the job's request token.
    server = createServer((request, response) => {
      requests.push({ url: request.url, authorization: request.headers.authorization });
      const audience = new URL(request.url!, 'http://x').searchParams.get('audience');
      if (request.headers.authorization !== 'Bearer request-token') {
        response.writeHead(403).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: `oidc-token-for-${audience}` }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    requestUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token?api-version=2.0`;
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('prefers WASM_SIGNER_TOKEN', async () => {
    await expect(
      credentialFromEnvironment({ WASM_SIGNER_TOKEN: 'wsk_abc', ACTIONS_ID_TOKEN_REQUEST_URL: requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token' }, 'aud', 1000),
    ).resolves.toBe('wsk_abc');
    expect(requests).toHaveLength(0);
  });

  it("in GitHub Actions, requests the job's OIDC token for the service's audience", async () => {
    await expect(credentialFromEnvironment({ ACTIONS_ID_TOKEN_REQUEST_URL: requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token' }, 'wasm-signer', 1000)).resolves.toBe(
      'oidc-token-for-wasm-signer',
    );
    expect(requests.at(-1)).toEqual({ url: '/token?api-version=2.0&audience=wasm-signer', authorization: 'Bearer request-token' });
  });

  it('says what is missing when GitHub gives no token, and sends nothing without any credential', async () => {
    await expect(credentialFromEnvironment({ ACTIONS_ID_TOKEN_REQUEST_URL: requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong' }, 'wasm-signer', 1000)).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringContaining('id-token: write'),
    });
    await expect(credentialFromEnvironment({}, 'wasm-signer', 1000)).resolves.toBeUndefined();
  });
});
