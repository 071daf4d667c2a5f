/**
 * The baseline: a minimal plain Socket.IO 4.8 server doing what the Loly route of the same
 * scenario does, and nothing else. Namespace "/bench", path "/wss", every other option left
 * at Socket.IO's default.
 *
 * BENCH_OPTS: { mode: "echo" | "fanout" | "idle", redisUrl?, key? }
 */
import { createServer } from "node:http";
import { Server } from "socket.io";
import { options, report, serveRunner } from "../lib/child.mjs";

const opts = options();
const httpServer = createServer();
const io = new Server(httpServer, { path: "/wss" });
const nsp = io.of("/bench");
const redisClients = [];

if (opts.mode === "echo") {
  nsp.on("connection", (socket) => {
    socket.on("echo", (data, ack) => {
      if (typeof ack === "function") ack(data);
    });
  });
} else if (opts.mode === "fanout") {
  const { Redis } = await import("ioredis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pub = new Redis(opts.redisUrl);
  const sub = pub.duplicate();
  redisClients.push(pub, sub);
  io.adapter(createAdapter(pub, sub, { key: opts.key }));
  nsp.on("connection", (socket) => {
    socket.join("bench");
    socket.on("send", (data) => {
      socket.to("bench").emit("msg", data);
    });
  });
} else if (opts.mode === "idle") {
  // The plain equivalent of an auth hook: the user goes into socket.data.
  nsp.use((socket, next) => {
    const token = socket.handshake.auth?.token;
    socket.data.user = typeof token === "string" ? { id: token } : null;
    next();
  });
} else {
  throw new Error(`plain server: unknown mode ${opts.mode}`);
}

serveRunner(async () => {
  io.close();
  for (const c of redisClients) c.disconnect();
});

httpServer.listen(0, "127.0.0.1", () => {
  const addr = httpServer.address();
  report({ type: "ready", port: typeof addr === "object" && addr ? addr.port : 0 });
});
