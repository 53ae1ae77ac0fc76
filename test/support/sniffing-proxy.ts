import { type Server, type Socket, connect, createServer } from 'node:net';

/** A TCP proxy in front of the registry that notes the request lines the service sends through it. */
export async function sniffingProxy(target: string): Promise<{ host: string; requests: string[]; close: () => Promise<void> }> {
  const [targetHost, targetPort] = target.split(':') as [string, string];
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ host: targetHost, port: Number(targetPort) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => {
      for (const match of chunk.toString('latin1').matchAll(/^(GET|HEAD|POST|PATCH|PUT|DELETE) (\S+) HTTP\/1\.1\r$/gm)) requests.push(`${match[1]} ${match[2]}`);
    });
    client.pipe(upstream).pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return { host: `127.0.0.1:${(server.address() as { port: number }).port}`, requests, close };
}
