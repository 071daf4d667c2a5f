/**
 * One instance of the sharded fan-out scenario (bench/load/sharded.mjs): hosts its own rooms
 * (one socket.io-client socket of its own per room, joined) and, when told, broadcasts to
 * rooms of the whole cluster; reports how many pub/sub messages its adapter's subscriber
 * received and how many broadcasts its sockets got.
 *
 * BENCH_OPTS: { kind: "loly-sharded" | "loly-classic" | "plain-sharded" | "plain-classic",
 *   redisUrl, prefix, rooms: string[] }
 * `plain-*` is Socket.IO 4.8 with `@socket.io/redis-adapter` (`createShardedAdapter`,
 * `subscriptionMode: "dynamic"`, or `createAdapter`); `loly-*` is Loly Realtime in cluster
 * mode with `recovery: false` and `scale.adapter.pubsub` set.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { defineWssRoute } from "@loly-rt/core";
import { createRealtimeServer } from "@loly-rt/server";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server, type Namespace } from "socket.io";
import { io as connect, type Socket } from "socket.io-client";
import { z } from "zod";
// @ts-expect-error plain JS helper of the runner (no type declarations)
import { options, report } from "../lib/child.mjs";

interface Opts {
  kind: "loly-sharded" | "loly-classic" | "plain-sharded" | "plain-classic";
  redisUrl: string;
  prefix: string;
  rooms: string[];
}

const opts = options() as Opts;
const NSP = "/bench";

let nsp: Namespace;
let port: number;
let receivedByAdapter: () => number;
let close: () => Promise<void>;
/** Brings `receivedByAdapter` up to date (Loly's is read from its metric). */
let refreshReceived: () => Promise<void> = async () => undefined;

if (opts.kind.startsWith("loly")) {
  const route = defineWssRoute({
    events: { join: { schema: z.string(), handler: (ctx) => ctx.actions.join(ctx.data) } },
  });
  const rt = await createRealtimeServer({
    config: {
      logging: { level: "warn", pretty: false },
      limits: { connectionsPerIp: 100_000, eventsPerSecond: 1_000_000, burst: 1_000_000 },
      recovery: false,
      scale: {
        mode: "cluster",
        adapter: { type: "redis", url: opts.redisUrl, pubsub: opts.kind === "loly-sharded" ? "sharded" : "classic" },
        stateStore: { type: "redis", url: opts.redisUrl, prefix: opts.prefix },
      },
    },
    routes: { [NSP]: route },
  });
  port = await rt.listen(0, "127.0.0.1");
  nsp = rt.io.of(NSP);
  // The counter reads the adapter's count when collected.
  const metric = rt.metrics.getSingleMetric("loly_adapter_messages_received_total");
  let lastReceived = 0;
  refreshReceived = async () => {
    const got = await metric?.get();
    lastReceived = got?.values.reduce((n, v) => n + v.value, 0) ?? 0;
  };
  receivedByAdapter = () => lastReceived;
  close = () => rt.close();
} else {
  const pub = new Redis(opts.redisUrl);
  const sub = pub.duplicate();
  // The stock adapters subscribe at once: an ioredis client that is not ready yet would send
  // SSUBSCRIBE ahead of its ready check (which then fails in subscriber mode).
  await Promise.all([pub, sub].map((c) => new Promise((r) => c.once("ready", r))));
  const key = `${opts.prefix}socket.io`;
  let count = 0;
  if (opts.kind === "plain-sharded") sub.on("smessageBuffer", () => count++);
  else {
    sub.on("pmessageBuffer", () => count++);
    sub.on("messageBuffer", () => count++);
  }
  const http = createServer();
  const server = new Server(http, {
    path: "/wss",
    adapter:
      opts.kind === "plain-sharded"
        ? createShardedAdapter(pub, sub, { channelPrefix: key, subscriptionMode: "dynamic" })
        : createAdapter(pub, sub, { key }),
  });
  nsp = server.of(NSP);
  nsp.on("connection", (socket) => {
    socket.on("join", async (room: string, ack: (r: unknown) => void) => {
      await socket.join(room);
      ack({ ok: true });
    });
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  port = (http.address() as AddressInfo).port;
  receivedByAdapter = () => count;
  close = async () => {
    await new Promise<void>((r) => void server.close(() => r()));
    pub.disconnect();
    sub.disconnect();
  };
}
// This instance's rooms, each with one member connected here.
const members: Socket[] = [];
let ticks = 0;
for (const room of opts.rooms) {
  const socket = connect(`http://127.0.0.1:${port}${NSP}`, { path: "/wss", transports: ["websocket"], forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  const answer = (await socket.emitWithAck("join", room)) as { ok?: boolean };
  if (answer?.ok !== true) throw new Error(`join ${room} refused: ${JSON.stringify(answer)}`);
  socket.on("tick", () => ticks++);
  members.push(socket);
}

process.on("message", async (msg: { type: string; rooms?: string[]; count?: number }) => {
  if (msg.type === "broadcast") {
    // `count` broadcasts, round robin over `rooms` (every instance's), in batches so the
    // event loop breathes.
    const rooms = msg.rooms ?? [];
    for (let i = 0; i < (msg.count ?? 0); i++) {
      nsp.to(rooms[i % rooms.length] as string).emit("tick", i);
      if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    }
    report({ type: "broadcast-done" });
  } else if (msg.type === "counts") {
    await refreshReceived();
    report({ type: "counts", received: receivedByAdapter(), ticks });
  } else if (msg.type === "close") {
    for (const s of members) s.disconnect();
    await close();
    process.exit(0);
  }
});
report({ type: "ready", port });
