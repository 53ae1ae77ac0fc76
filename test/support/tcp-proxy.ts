import { createServer, type Server, type Socket, connect } from 'node:net';

/**
 * A TCP proxy in front of a real server (Redis, PostgreSQL, the registry). Tests cut it to make the
 * server unreachable for the service under test, then restore it: an outage without stopping shared
 * servers. With `latencyMs`, every chunk in either direction is held that long: a slow network, which
 * widens the window between a read and the write that depends on it. With `stallOn`, the client's
 * bytes are watched: once they match, that connection stops carrying anything to the server (the
 * matching command never arrives) and the proxy tells the test, which can then kill the client exactly
 * there — between two writes of the service, say.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private open = true;
  private stall: { pattern: RegExp; hit: () => void } | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number, options: { latencyMs?: number } = {}): Promise<TcpProxy> {
    const latencyMs = options.latencyMs ?? 0;
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => {
      if (!proxy!.open) {
        client.destroy();
        return;
      }
      const upstream = connect({ host: targetHost, port: targetPort });
      for (const socket of [client, upstream]) {
        proxy!.sockets.add(socket);
        socket.once('close', () => proxy!.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      if (proxy!.stall) {
        // Matched against the chunk and the end of the one before, so a command split in two still matches.
        let tail = '';
        let stalled = false;
        client.on('data', (chunk: Buffer) => {
          const text = tail + chunk.toString('latin1');
          tail = text.slice(-256);
          const stall = proxy!.stall;
          if (!stalled && stall && stall.pattern.test(text)) {
            stalled = true;
            stall.hit();
          }
          if (!stalled && upstream.writable) upstream.write(chunk);
        });
        client.once('end', () => upstream.end());
        upstream.pipe(client);
      } else if (latencyMs > 0) {
        // Same delay for every chunk: timers fire in order, so the byte stream keeps its order.
        const forward = (from: Socket, to: Socket) => {
          from.on('data', (chunk: Buffer) => setTimeout(() => to.writable && to.write(chunk), latencyMs));
          from.once('end', () => setTimeout(() => to.end(), latencyMs));
        };
        forward(client, upstream);
        forward(upstream, client);
      } else {
        client.pipe(upstream).pipe(client);
      }
      // With latency, chunks still on their way are delivered before the other side is closed.
      const later = (close: () => void) => (latencyMs > 0 ? setTimeout(close, latencyMs + 10) : close());
      client.once('close', () => later(() => upstream.destroy()));
      upstream.once('close', () => later(() => client.destroy()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new TcpProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  /**
   * Resolves once a client sends bytes matching `pattern`: that chunk and everything after it on that
   * connection never reach the server. Watches the connections opened after this call.
   */
  stallOn(pattern: RegExp): Promise<void> {
    return new Promise((resolve) => {
      this.stall = {
        pattern,
        hit: () => {
          this.stall = undefined;
          resolve();
        },
      };
    });
  }

  /** Drops every connection and refuses new ones until restore(). */
  cut(): void {
    this.open = false;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.open = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
