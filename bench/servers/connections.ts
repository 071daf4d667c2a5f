/**
 * The servers of the idle-connections scenario (`pnpm bench connections`), both in this file
 * so that both answer the same memory probe (below):
 *
 * - `kind: "loly"`, the subject: one Loly Realtime instance in cluster mode on Redis, so
 *   presence and the per-IP connection counts are the Redis backends, with an `auth` hook
 *   signing every connection in (`handshake.auth.token` is the user id). Otherwise what
 *   bench/servers/loly.ts runs: defaults (metrics on, both transports, recovery on,
 *   presence.ttlMs 15000: a heartbeat every 5 s), logging at warn, limits raised so nothing is
 *   refused.
 * - `kind: "plain"`, the baseline: bare Socket.IO 4.8, what bench/servers/plain.mjs runs in
 *   `idle` mode (a namespace middleware puts the user in `socket.data`).
 *
 * Besides the runner's usual commands (`cpu`, `close`), `heap` answers the heap after GC
 * (`v8.getHeapStatistics()`, which needs no file descriptor), the RSS (`process.memoryUsage`
 * reads /proc: null when the process is out of descriptors, as it is at its open-file limit)
 * and the Engine.IO connections the server holds.
 *
 * BENCH_OPTS: { kind: "loly" | "plain", redisUrl?, prefix?, recovery? (false: `recovery: false`) }
 */
import { createServer } from "node:http";
import { getHeapStatistics } from "node:v8";
import { setTimeout as sleep } from "node:timers/promises";
import type { Server } from "socket.io";
// @ts-expect-error plain JS helper of the runner (no type declarations)
import { options, report, serveRunner } from "../lib/child.mjs";

const opts = options() as { kind: "loly" | "plain"; redisUrl?: string; prefix?: string; recovery?: boolean };

let io: Server;
let port: number;
if (opts.kind === "loly") {
  const [{ defineWssRoute }, { createRealtimeServer }] = await Promise.all([import("@loly-rt/core"), import("@loly-rt/server")]);
  const route = defineWssRoute({
    auth: ({ handshake }) => {
      const token = handshake.auth.token;
      return typeof token === "string" ? { id: token } : null;
    },
    events: {},
  });
  const rt = await createRealtimeServer({
    config: {
      path: "/wss",
      logging: { level: "warn", pretty: false },
      limits: { connectionsPerIp: 1_000_000 },
      scale: {
        mode: "cluster",
        adapter: { type: "redis", url: opts.redisUrl },
        stateStore: { type: "redis", url: opts.redisUrl, prefix: opts.prefix ?? "loly-bench:" },
      },
      ...(opts.recovery === false ? { recovery: false } : {}),
    },
    routes: { "/bench": route },
  });
  serveRunner(() => rt.close());
  io = rt.io;
  port = await rt.listen(0, "127.0.0.1");
} else {
  const { Server } = await import("socket.io");
  const httpServer = createServer();
  io = new Server(httpServer, { path: "/wss" });
  io.of("/bench").use((socket, next) => {
    const token = socket.handshake.auth?.token;
    socket.data.user = typeof token === "string" ? { id: token } : null;
    next();
  });
  serveRunner(async () => {
    io.close();
  });
  port = await new Promise<number>((resolve) =>
    httpServer.listen(0, "127.0.0.1", () => {
      const addr = httpServer.address();
      resolve(typeof addr === "object" && addr ? addr.port : 0);
    }),
  );
}

/** Full GCs until the heap stops shrinking (what lib/child.mjs's memoryAfterGc does), without a file descriptor. */
async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") throw new Error("run with --expose-gc");
  let last = Infinity;
  for (let i = 0; i < 6; i++) {
    gc();
    await sleep(50);
    const used = getHeapStatistics().used_heap_size;
    if (last - used < 64 * 1024) break;
    last = used;
  }
  return getHeapStatistics().used_heap_size;
}

process.on("message", async (msg: { type: string }) => {
  if (msg.type !== "heap") return;
  const heapUsed = await heapAfterGc();
  let rss: number | null = null;
  try {
    rss = process.memoryUsage.rss();
  } catch {
    // EMFILE: /proc cannot be opened
  }
  report({ type: "heap", heapUsed, rss, engineClients: io.engine.clientsCount });
});

report({ type: "ready", port });
