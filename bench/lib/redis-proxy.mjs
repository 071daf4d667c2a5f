/**
 * A counting TCP proxy in front of Redis: forwards bytes both ways unchanged and counts the
 * commands clients send (RESP arrays of bulk strings, as every client library writes them).
 * Lets the suite tell how many Redis commands a server sends per event without touching the
 * server or reading Redis-wide statistics that other clients disturb.
 */
import net from "node:net";

const CR = 13;

/** Counts top-level RESP commands in a client -> server byte stream. */
class CommandCounter {
  constructor() {
    this.count = 0;
    this.state = "start"; // start | header | bulkHeader | bulk
    this.line = "";
    this.args = 0;
    this.bulkLeft = 0;
  }

  push(buf) {
    let i = 0;
    while (i < buf.length) {
      if (this.state === "bulk") {
        const take = Math.min(this.bulkLeft, buf.length - i);
        this.bulkLeft -= take;
        i += take;
        if (this.bulkLeft === 0) {
          this.args--;
          this.state = this.args > 0 ? "bulkHeader" : "start";
        }
        continue;
      }
      const b = buf[i++];
      if (this.state === "start") {
        // Inline commands (no '*') are not used by client libraries; count them by line.
        this.state = "header";
        this.line = b === 42 /* '*' */ ? "" : String.fromCharCode(b);
        this.inline = b !== 42;
        continue;
      }
      if (b === CR) continue;
      if (b !== 10 /* '\n' */) {
        this.line += String.fromCharCode(b);
        continue;
      }
      if (this.state === "header") {
        this.count++;
        if (this.inline) {
          this.state = "start";
        } else {
          this.args = Number(this.line);
          this.state = this.args > 0 ? "bulkHeader" : "start";
        }
      } else if (this.state === "bulkHeader") {
        // "$<len>": the payload plus its CRLF follow.
        this.bulkLeft = Number(this.line.slice(1)) + 2;
        this.state = "bulk";
      }
      this.line = "";
    }
  }
}

/**
 * Starts the proxy on a free loopback port in front of `redisUrl`. Resolves `{ url, commands(),
 * close() }`: `url` is `redisUrl` with the proxy's host and port.
 */
export async function startRedisProxy(redisUrl) {
  const target = new URL(redisUrl);
  const counters = new Set();
  let closedCount = 0;
  const sockets = new Set();
  const server = net.createServer((client) => {
    const counter = new CommandCounter();
    counters.add(counter);
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    client.on("data", (d) => {
      counter.push(d);
      upstream.write(d);
    });
    upstream.pipe(client);
    const end = () => {
      if (counters.delete(counter)) closedCount += counter.count;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", end);
    upstream.on("error", end);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(redisUrl);
  url.hostname = "127.0.0.1";
  url.port = String(server.address().port);
  return {
    url: url.toString(),
    /** Commands sent through the proxy so far (all connections, open or closed). */
    commands() {
      let n = closedCount;
      for (const c of counters) n += c.count;
      return n;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
