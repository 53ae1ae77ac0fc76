import { createHash } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { OCI_MANIFEST_MEDIA_TYPE } from './oci-media-types';
import { RegistryClient } from './registry-client';
import { egressGuardedFetch } from './registry-egress-fetch';
import { EgressRefusedError, RegistryEgressPolicy } from './registry-egress-policy';
import { RegistryError } from './registry-error';

describe('RegistryEgressPolicy', () => {
  it('allows any registry when no hosts are listed, else only those matching a pattern', () => {
    expect(new RegistryEgressPolicy().allowsRegistry('anything.example:1234')).toBe(true);
    const policy = new RegistryEgressPolicy({ allowedHosts: ['ghcr.io', '*.registry.example.com', 'localhost:5000', '[::1]:5000'] });
    expect(
      ['ghcr.io', 'GHCR.io:443', 'ghcr.io:8443', 'a.registry.example.com', 'a.b.registry.example.com:5000', 'localhost:5000', '[0:0::1]:5000'].map((r) => policy.allowsRegistry(r)),
    ).toEqual([true, true, true, true, true, true, true]);
    expect(
      ['ghcr.io.evil.example', 'registry.example.com', 'xregistry.example.com', 'localhost', 'localhost:5001', '[::1]:5001', 'evilghcr.io'].map((r) => policy.allowsRegistry(r)),
    ).toEqual([false, false, false, false, false, false, false]);
  });

  it('refuses internal addresses written as such, and metadata services by name, before any lookup', () => {
    const policy = new RegistryEgressPolicy();
    for (const host of [
      '169.254.169.254',
      '[fd00:ec2::254]',
      'fd00:ec2::254',
      '127.0.0.1',
      '10.1.2.3',
      '[::ffff:127.0.0.1]',
      '[::ffff:a9fe:a9fe]',
      '[64:ff9b::a9fe:a9fe]',
      '[::]',
      '0.0.0.0',
      'metadata.google.internal',
      'METADATA.google.internal.',
    ]) {
      expect({ host, refused: policy.refusalBeforeLookup(host) }).toEqual({ host, refused: expect.any(EgressRefusedError) });
    }
    expect(policy.refusalBeforeLookup('169.254.169.254')!.message).toMatch(/169\.254\.169\.254 is an internal address .*REGISTRY_PRIVATE_ALLOWLIST/);
    for (const host of ['ghcr.io', '8.8.8.8', '[2606:4700::1111]', 'localhost']) expect(policy.refusalBeforeLookup(host)).toBeUndefined();
  });

  it('checks every address a name resolved to, unless the allowlist names the host or holds the address', () => {
    const none = new RegistryEgressPolicy();
    expect(none.refusalOf('registry.example.com', ['93.184.216.34'])).toBeUndefined();
    expect(none.refusalOf('registry.example.com', ['93.184.216.34', '10.0.0.5'])?.message).toMatch(/registry\.example\.com resolves to 10\.0\.0\.5, an internal address/);
    const ranges = new RegistryEgressPolicy({ privateAllowlist: ['10.0.0.0/8', 'registry.internal'] });
    expect(ranges.refusalOf('registry.example.com', ['10.0.0.5'])).toBeUndefined();
    expect(ranges.refusalOf('registry.internal', ['192.168.1.1'])).toBeUndefined();
    expect(ranges.refusalOf('other.internal', ['192.168.1.1'])).toBeInstanceOf(EgressRefusedError);
    expect(ranges.refusalBeforeLookup('169.254.169.254')).toBeInstanceOf(EgressRefusedError);
  });
});

/** A plain HTTP server on 127.0.0.1 that counts the connections it accepts. */
async function countingServer(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer(handler);
  server.on('connection', (socket: Socket) => {
    connections++;
    socket.unref();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

describe('egressGuardedFetch', () => {
  let target: Awaited<ReturnType<typeof countingServer>>;

  beforeAll(async () => {
    target = await countingServer((_request, response) => response.end('ok'));
  });

  afterAll(() => new Promise<void>((resolve) => target.server.close(() => resolve())));

  const causeOf = async (promise: Promise<unknown>): Promise<unknown> => {
    try {
      await promise;
    } catch (error) {
      return (error as { cause?: unknown }).cause;
    }
    throw new Error('expected a refusal');
  };

  it('refuses loopback, by address or by a name resolving to it, without connecting', async () => {
    const guarded = egressGuardedFetch(new RegistryEgressPolicy());
    const before = target.connections();
    expect(await causeOf(guarded(`http://127.0.0.1:${target.port}/`))).toBeInstanceOf(EgressRefusedError);
    const byName = await causeOf(guarded(`http://localhost:${target.port}/`));
    expect(byName).toBeInstanceOf(EgressRefusedError);
    expect((byName as Error).message).toMatch(/localhost resolves to (127\.0\.0\.1|::1), an internal address/);
    expect(target.connections()).toBe(before);
  });

  it('connects where the allowlist allows: a range holding the address, or the host name', async () => {
    const byRange = egressGuardedFetch(new RegistryEgressPolicy({ privateAllowlist: ['127.0.0.0/8', '::1'] }));
    expect(await (await byRange(`http://127.0.0.1:${target.port}/`)).text()).toBe('ok');
    expect(await (await byRange(`http://localhost:${target.port}/`)).text()).toBe('ok');

    const byName = egressGuardedFetch(new RegistryEgressPolicy({ privateAllowlist: ['localhost'] }));
    expect(await (await byName(`http://localhost:${target.port}/`)).text()).toBe('ok');
    expect(await causeOf(byName(`http://127.0.0.1:${target.port}/`))).toBeInstanceOf(EgressRefusedError);
  });
});

describe('RegistryClient with an egress policy', () => {
  const repo = (registry: string) => ({ registry, repository: 'team/app' });

  it('refuses a registry outside the allowed hosts, and one written as an internal address, before sending anything', async () => {
    const fetch = jest.fn<Promise<Response>, Parameters<typeof globalThis.fetch>>();
    const client = new RegistryClient({ userAgent: 't', requestTimeoutMs: 1000, fetch, egress: new RegistryEgressPolicy({ allowedHosts: ['ghcr.io', '169.254.169.254'] }) });
    await expect(client.getManifest(repo('registry.example.com'), 'v1')).rejects.toMatchObject({
      code: 'REGISTRY_NOT_ALLOWED',
      transient: false,
      registry: 'registry.example.com',
    });
    await expect(client.getManifest(repo('169.254.169.254'), 'v1')).rejects.toMatchObject({
      code: 'REGISTRY_ADDRESS_REFUSED',
      transient: false,
      message: expect.stringMatching(/169\.254\.169\.254 is an internal address/),
    });
    expect(fetch).not.toHaveBeenCalled();
  });

  it('refuses a name resolving to loopback when it connects, and a redirect to an internal address', async () => {
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST_MEDIA_TYPE, config: {}, layers: [] }));
    const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
    // The storage a registry redirects blob reads to, here on an address the policy refuses.
    const storage = await countingServer((_request, response) => response.end('blob'));
    const registry = await countingServer((request, response) => {
      if (request.url?.includes('/blobs/')) {
        response.writeHead(307, { location: `http://127.0.0.1:${storage.port}/blob` }).end();
        return;
      }
      response.writeHead(200, { 'content-type': OCI_MANIFEST_MEDIA_TYPE, 'docker-content-digest': digest }).end(manifest);
    });
    try {
      const insecureHosts = [`localhost:${registry.port}`, `127.0.0.1:${storage.port}`];
      const strict = new RegistryClient({ userAgent: 't', requestTimeoutMs: 5000, insecureHosts, egress: new RegistryEgressPolicy() });
      const refused = await strict.getManifest(repo(`localhost:${registry.port}`), 'v1').catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(RegistryError);
      expect(refused).toMatchObject({ code: 'REGISTRY_ADDRESS_REFUSED', transient: false, message: expect.stringMatching(/localhost resolves to .*REGISTRY_PRIVATE_ALLOWLIST/) });
      expect(registry.connections()).toBe(0);

      // Allowing the registry's name lets it be reached; its redirect to a refused address is still refused.
      const allowed = new RegistryClient({ userAgent: 't', requestTimeoutMs: 5000, insecureHosts, egress: new RegistryEgressPolicy({ privateAllowlist: ['localhost'] }) });
      expect((await allowed.getManifest(repo(`localhost:${registry.port}`), 'v1'))?.digest).toBe(digest);
      await expect(allowed.getBlob(repo(`localhost:${registry.port}`), `sha256:${'a'.repeat(64)}`)).rejects.toMatchObject({
        code: 'REGISTRY_ADDRESS_REFUSED',
        message: expect.stringContaining(`127.0.0.1 is an internal address`),
      });
      expect(storage.connections()).toBe(0);
    } finally {
      await Promise.all([storage, registry].map(({ server }) => new Promise((resolve) => server.close(resolve))));
    }
  });
});
