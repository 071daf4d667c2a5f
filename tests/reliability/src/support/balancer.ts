/**
 * A TCP load balancer of the test's own: every client connection goes to the next live backend
 * (round robin, skipping backends that refuse), bytes piped both ways. What a deploy looks like
 * to clients: one address, instances behind it coming and going. No stickiness: use websocket
 * clients (a polling session's requests must all reach one instance: docs/deploying.md).
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface Balancer {
  readonly port: number;
  readonly url: string;
  /** Replaces the backends (ports on 127.0.0.1); existing connections stay where they are. */
  setBackends(ports: number[]): void;
  close(): Promise<void>;
}

export async function startBalancer(ports: number[]): Promise<Balancer> {
  let backends = [...ports];
  let next = 0;
  const open = new Set<Socket>();
  const tryBackend = (client: Socket, attempt: number): void => {
    if (attempt >= backends.length || client.destroyed) {
      client.destroy();
      return;
    }
    const port = backends[next++ % backends.length] as number;
    const upstream = connect(port, "127.0.0.1");
    let connected = false;
    open.add(upstream);
    upstream.once("connect", () => {
      connected = true;
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    // Refused (the instance is gone): the next backend.
    upstream.once("error", () => {
      if (!connected) tryBackend(client, attempt + 1);
    });
    upstream.once("close", () => {
      open.delete(upstream);
      if (connected) client.destroy();
    });
    client.once("close", () => upstream.destroy());
  };
  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    open.add(client);
    client.once("close", () => open.delete(client));
    client.on("error", () => undefined);
    tryBackend(client, 0);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    setBackends(list) {
      backends = [...list];
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
