import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** `http://127.0.0.1:<port>`: the proxied server's URL for clients. */
  url: string;
  /** Drops every connection through the proxy and refuses new ones until `restore()`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `targetPort` (a test server, PostgreSQL…): `cut()` is a
 * real network failure, not a polite disconnect.
 */
export async function tcpProxy(targetPort: number): Promise<TcpProxy> {
  let refusing = false;
  const live = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    if (refusing) return void inbound.destroy();
    const outbound = net.connect(targetPort, '127.0.0.1');
    live.add(inbound).add(outbound);
    const drop = () => {
      inbound.destroy();
      outbound.destroy();
      live.delete(inbound);
      live.delete(outbound);
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    cut() {
      refusing = true;
      for (const s of live) s.destroy();
      live.clear();
    },
    restore() {
      refusing = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of live) s.destroy();
        server.close(() => r());
      }),
  };
}
