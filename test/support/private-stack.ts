import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalStack, type LocalStackHandle } from '../../dev/stack/ensure-local-stack';
import { REPO_ROOT } from './test-environment';

/**
 * A Sigstore stack (OIDC, Fulcio, Rekor, TSA; no registry) of one test file's own, on free ports and in
 * a directory of its own: faults injected into it disturb no other test file.
 */
export async function startPrivateStack(): Promise<LocalStackHandle & { dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'wasm-signer-private-stack-'));
  const [oidc, fulcio, rekor, tsa] = await freePorts(4);
  const handle = await ensureLocalStack({
    repoRoot: REPO_ROOT,
    env: {
      STACK_DIR: dir,
      STACK_OIDC_PORT: String(oidc),
      STACK_FULCIO_PORT: String(fulcio),
      STACK_REKOR_PORT: String(rekor),
      STACK_TSA_PORT: String(tsa),
      STACK_REGISTRY: 'off',
    },
  });
  if (!handle.started) throw new Error('expected a private stack of its own, found one already running');
  return {
    ...handle,
    dir,
    stop: async () => {
      await handle.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Distinct free loopback ports, all held at once while they are chosen. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve) => {
          const server = createServer();
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}
