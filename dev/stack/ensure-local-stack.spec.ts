import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalStack } from './ensure-local-stack';
import { HttpService } from './http-service';
import { findRepoRoot } from './stack-config';

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return server;
    }),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

describe('ensureLocalStack', () => {
  let dir: string;
  let env: Record<string, string>;
  let ports: number[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ensure-stack-spec-'));
    ports = await freePorts(4);
    env = {
      STACK_DIR: dir,
      STACK_OIDC_PORT: String(ports[0]),
      STACK_FULCIO_PORT: String(ports[1]),
      STACK_REKOR_PORT: String(ports[2]),
      STACK_TSA_PORT: String(ports[3]),
      STACK_REGISTRY: 'off',
    };
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to start when a stack port is held by something that is not the stack', async () => {
    const foreign: Server = createHttpServer((_, res) => res.end('hello'));
    await new Promise<void>((resolve) => foreign.listen(ports[1], '127.0.0.1', resolve));
    try {
      await expect(ensureLocalStack({ repoRoot: findRepoRoot(), env })).rejects.toThrow(/ports are taken by something else: fulcio/);
    } finally {
      await new Promise((resolve) => foreign.close(resolve));
    }
  });

  it('refuses to start a second stack beside a partly running one, naming what answers', async () => {
    const oidcOnly = new HttpService({ name: 'oidc', routes: [] });
    await oidcOnly.listen('127.0.0.1', ports[0]!);
    try {
      await expect(ensureLocalStack({ repoRoot: findRepoRoot(), env })).rejects.toThrow(/partly up \(oidc answer; fulcio, rekor, tsa do not\)/);
    } finally {
      await oidcOnly.close();
    }
  });

  it('says at once that a running stack belongs to another folder, and how to use it', async () => {
    const services = ['oidc', 'fulcio', 'rekor', 'tsa'].map((name) => new HttpService({ name, routes: [] }));
    await Promise.all(services.map((service, i) => service.listen('127.0.0.1', ports[i]!)));
    const started = Date.now();
    try {
      await expect(ensureLocalStack({ repoRoot: findRepoRoot(), env, readyTimeoutMs: 30_000 })).rejects.toThrow(
        /its stack\.env is not in .*another checkout or another STACK_DIR\. Set STACK_DIR/,
      );
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await Promise.all(services.map((service) => service.close()));
    }
  });

  it('reports a stack that dies during start-up with the tail of its log', async () => {
    // A file where the stack wants its Fulcio directory makes start-up fail.
    await mkdir(join(dir, 'stack'), { recursive: true });
    await writeFile(join(dir, 'stack', 'fulcio'), 'not a directory');
    const error = await ensureLocalStack({ repoRoot: findRepoRoot(), env, readyTimeoutMs: 30_000 }).then(
      () => new Error('expected ensureLocalStack to fail'),
      (e: unknown) => e as Error,
    );
    expect(error.message).toMatch(/local stack exited \(code 1\) before it was ready/);
    expect(error.message).toMatch(/failed to start/);
    expect(error.message).toContain(join(dir, 'stack', 'stack.log'));
  }, 40_000);
});
