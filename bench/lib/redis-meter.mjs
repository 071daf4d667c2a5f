/**
 * What one server costs Redis, measured without reading Redis-wide statistics that other
 * clients of the same Redis disturb:
 *
 * - `startRedisMeter(url)`: a TCP proxy in front of Redis that forwards bytes unchanged and
 *   counts, over every connection through it, the commands sent (by name: `EVALSHA`, `PUBLISH`,
 *   ...), the bytes sent to Redis and the bytes received from it (replies and pub/sub
 *   messages). `snapshot()` now, `since(snapshot)` the difference.
 * - `monitorPrefix(url, prefix, ms)`: Redis `MONITOR` for `ms`, keeping the commands that name
 *   a key or argument under `prefix`, including those a Lua script runs (`source: "lua"`):
 *   what Redis executed for this server, script bodies included.
 */
import net from "node:net";
import { Redis } from "ioredis";

/** Parses a client -> server RESP stream into command names (the first bulk string of each array). */
class CommandParser {
  constructor(onCommand) {
    this.onCommand = onCommand;
    this.state = "start"; // start | header | bulkHeader | bulk
    this.line = "";
    this.args = 0;
    this.bulkLeft = 0;
    this.first = false;
    this.name = "";
  }

  push(buf) {
    let i = 0;
    while (i < buf.length) {
      if (this.state === "bulk") {
        const take = Math.min(this.bulkLeft, buf.length - i);
        // The command's name is the first argument (short): keep its bytes.
        if (this.first) this.name += buf.toString("latin1", i, i + Math.min(take, Math.max(0, this.bulkLeft - 2)));
        this.bulkLeft -= take;
        i += take;
        if (this.bulkLeft === 0) {
          if (this.first) {
            this.onCommand(this.name.toUpperCase());
            this.first = false;
          }
          this.args--;
          this.state = this.args > 0 ? "bulkHeader" : "start";
        }
        continue;
      }
      const b = buf[i++];
      if (this.state === "start") {
        this.state = "header";
        this.inline = b !== 42; /* '*' */
        this.line = this.inline ? String.fromCharCode(b) : "";
        continue;
      }
      if (b === 13) continue;
      if (b !== 10) {
        this.line += String.fromCharCode(b);
        continue;
      }
      if (this.state === "header") {
        if (this.inline) {
          this.onCommand(this.line.split(" ")[0].toUpperCase());
          this.state = "start";
        } else {
          this.args = Number(this.line);
          this.first = true;
          this.name = "";
          this.state = this.args > 0 ? "bulkHeader" : "start";
        }
      } else if (this.state === "bulkHeader") {
        this.bulkLeft = Number(this.line.slice(1)) + 2;
        this.state = "bulk";
      }
      this.line = "";
    }
  }
}

/**
 * Starts the meter on a free loopback port in front of `redisUrl`. Resolves `{ url, snapshot(),
 * since(snap), close() }`; `url` is `redisUrl` with the proxy's host and port.
 */
export async function startRedisMeter(redisUrl) {
  const target = new URL(redisUrl);
  const totals = { commands: 0, byName: {}, bytesUp: 0, bytesDown: 0, connections: 0 };
  const sockets = new Set();
  const server = net.createServer((client) => {
    totals.connections++;
    const parser = new CommandParser((name) => {
      totals.commands++;
      totals.byName[name] = (totals.byName[name] ?? 0) + 1;
    });
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    client.on("data", (d) => {
      totals.bytesUp += d.length;
      parser.push(d);
      upstream.write(d);
    });
    upstream.on("data", (d) => {
      totals.bytesDown += d.length;
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on("close", end);
      s.on("error", end);
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(redisUrl);
  url.hostname = "127.0.0.1";
  url.port = String(server.address().port);
  const snapshot = () => ({ ...totals, byName: { ...totals.byName }, at: performance.now() });
  return {
    url: url.toString(),
    snapshot,
    /** What went through since `snap` (a `snapshot()`): commands, by name, bytes each way, ms. */
    since(snap) {
      const now = snapshot();
      const byName = {};
      for (const [k, v] of Object.entries(now.byName)) if (v - (snap.byName[k] ?? 0) > 0) byName[k] = v - (snap.byName[k] ?? 0);
      return {
        commands: now.commands - snap.commands,
        byName,
        bytesUp: now.bytesUp - snap.bytesUp,
        bytesDown: now.bytesDown - snap.bytesDown,
        ms: now.at - snap.at,
      };
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Watches Redis with `MONITOR` for `ms` and counts the commands with an argument under `prefix`
 * (the server's keys and channels), by where they came from (`client`: sent by a client;
 * `lua`: run by a script) and by name, and in `buckets` by `bucketMs` slice of the window.
 * `MONITOR` shows every client's commands: the rest is dropped here, so the count is this
 * server's only (a script's commands that name no key, such as `TIME`, are not counted).
 */
export async function monitorPrefix(redisUrl, prefix, ms, bucketMs = ms) {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const out = { client: 0, lua: 0, byName: {}, ms, buckets: Array.from({ length: Math.ceil(ms / bucketMs) }, () => 0) };
  let started = 0;
  try {
    await redis.connect();
    const monitor = await redis.monitor();
    started = performance.now();
    monitor.on("monitor", (_time, args, source) => {
      if (!args.some((a) => typeof a === "string" && a.includes(prefix))) return;
      const b = Math.min(out.buckets.length - 1, Math.floor((performance.now() - started) / bucketMs));
      out.buckets[b]++;
      const from = typeof source === "string" && source.includes("lua") ? "lua" : "client";
      out[from]++;
      const name = `${from === "lua" ? "lua " : ""}${String(args[0]).toUpperCase()}`;
      out.byName[name] = (out.byName[name] ?? 0) + 1;
    });
    await new Promise((resolve) => setTimeout(resolve, ms));
    monitor.disconnect();
  } finally {
    redis.disconnect();
  }
  return out;
}
