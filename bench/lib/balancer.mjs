/**
 * A TCP load balancer of the bench's own (the idea of tests/reliability/src/support/balancer.ts):
 * every client connection goes to the next backend in round robin, skipping a backend that
 * refuses the connection (an instance that stopped listening), and bytes are piped both ways.
 * No stickiness, so clients must use the websocket transport (docs/deploying.md).
 *
 * When a backend closes a connection cleanly, what it wrote last (an ack, the websocket close
 * frame) is flushed to the client before the client's side is closed: the balancer must not be
 * what loses an answer.
 */
import { connect, createServer } from "node:net";

/**
 * Starts a balancer on 127.0.0.1 (a free port) in front of `ports` (on 127.0.0.1).
 * `setBackends(ports)` replaces the list; connections already piped stay where they are.
 */
export async function startBalancer(ports) {
  let backends = [...ports];
  let next = 0;
  let accepted = 0;
  let refused = 0;
  let exhausted = 0;
  let cut = 0;
  const open = new Set();

  // `first` is this client's turn in the round robin; a refusal moves it to the following
  // backend (not to the next turn, which other clients take meanwhile: it could be the same one).
  const tryBackend = (client, first, attempt) => {
    if (attempt >= backends.length || client.destroyed) {
      if (!client.destroyed) exhausted++;
      client.destroy();
      return;
    }
    const port = backends[(first + attempt) % backends.length];
    const upstream = connect(port, "127.0.0.1");
    let connected = false;
    open.add(upstream);
    upstream.once("connect", () => {
      connected = true;
      accepted++;
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on("error", () => {
      if (!connected) {
        refused++;
        tryBackend(client, first, attempt + 1);
      }
    });
    upstream.once("close", (hadError) => {
      open.delete(upstream);
      if (!connected) return;
      // A clean close: `pipe` has ended the client's side after the last bytes; an error: cut it.
      if (hadError) {
        cut++;
        client.destroy();
      } else client.end();
    });
    client.once("close", () => upstream.destroy());
  };

  const server = createServer({ pauseOnConnect: true }, (client) => {
    open.add(client);
    client.once("close", () => open.delete(client));
    client.on("error", () => undefined);
    tryBackend(client, next++, 0);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    setBackends(list) {
      backends = [...list];
    },
    /**
     * Connections piped to a backend so far; backend connections refused (then tried on the
     * next backend); clients closed because every backend refused; piped connections cut
     * because the backend's side failed.
     */
    stats() {
      return { accepted, refused, exhausted, cut };
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
