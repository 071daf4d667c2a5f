/**
 * The instances of the frozen-instance scenario (`pnpm bench frozen`): a cluster member whose
 * cluster-wide calls the runner triggers over IPC and times here (without the IPC round trip).
 *
 * - `kind: "loly"`: a Loly Realtime instance in cluster mode (`scale.commandTimeoutMs` =
 *   `deadlineMs`; presence.ttlMs 60000, so a frozen instance stays a member, named in
 *   `missing`, for the whole run instead of being forgotten after the default 15 s). Route
 *   `/bench`: an `auth` hook signing the connection in (`handshake.auth.token` is the user id),
 *   `onConnect` joining room `lobby`. Calls: `fetchSockets`, `revalidate`, `disconnectUser`.
 * - `kind: "plain"`: bare Socket.IO 4.8 with `@socket.io/redis-adapter` (`requestsTimeout` =
 *   `deadlineMs`), the same namespace and room. Call: `fetchSockets`
 *   (`io.of("/bench").in(room).fetchSockets()`, which rejects when an instance does not answer).
 *
 * IPC: `{ type: "call", id, op, args }` answers `{ type: "called-<id>", ms, result | error }`
 * (`fetchSockets` results counted: `{ instances, count, missing }`);
 * `{ type: "instance" }` answers `{ type: "instance", id }` (Loly's instance id, as `missing`
 * names it). Plus the runner's usual `cpu` / `mem` / `close`.
 *
 * BENCH_OPTS: { kind: "loly" | "plain", redisUrl, prefix, deadlineMs }
 */
import { createServer } from "node:http";
// @ts-expect-error plain JS helper of the runner (no type declarations)
import { options, report, serveRunner } from "../lib/child.mjs";

interface Opts {
  kind: "loly" | "plain";
  redisUrl: string;
  prefix: string;
  deadlineMs: number;
}
type Call = (args: Record<string, unknown>) => Promise<unknown>;

const opts = options() as Opts;
const calls: Record<string, Call> = {};
let instanceId = "";
let port: number;

if (opts.kind === "loly") {
  const [{ defineWssRoute }, { createRealtimeServer }] = await Promise.all([import("@loly-rt/core"), import("@loly-rt/server")]);
  const route = defineWssRoute({
    auth: ({ handshake }) => {
      const token = handshake.auth.token;
      return typeof token === "string" ? { id: token } : null;
    },
    onConnect: (ctx) => ctx.actions.join("lobby"),
    events: {},
  });
  const rt = await createRealtimeServer({
    config: {
      path: "/wss",
      logging: { level: "error", pretty: false },
      limits: { connectionsPerIp: 1_000_000 },
      presence: { ttlMs: 60_000 },
      scale: {
        mode: "cluster",
        adapter: { type: "redis", url: opts.redisUrl },
        stateStore: { type: "redis", url: opts.redisUrl, prefix: opts.prefix },
        commandTimeoutMs: opts.deadlineMs,
      },
    },
    routes: { "/bench": route },
  });
  // What the runner needs of a result (the sockets themselves are only counted).
  calls.fetchSockets = async (a) => {
    const { instances, results, missing } = await rt.fetchSockets(a as Parameters<typeof rt.fetchSockets>[0]);
    return { instances, count: results.length, missing };
  };
  calls.revalidate = (a) => rt.revalidate(a as Parameters<typeof rt.revalidate>[0]);
  calls.disconnectUser = (a) => rt.disconnectUser(String(a.userId));
  instanceId = rt.instanceId;
  serveRunner(() => rt.close());
  port = await rt.listen(0, "127.0.0.1");
} else {
  const [{ Server }, { createAdapter }, { Redis }] = await Promise.all([
    import("socket.io"),
    import("@socket.io/redis-adapter"),
    import("ioredis"),
  ]);
  const pub = new Redis(opts.redisUrl);
  const sub = pub.duplicate();
  const httpServer = createServer();
  const io = new Server(httpServer, { path: "/wss" });
  io.adapter(createAdapter(pub, sub, { key: `${opts.prefix}sio`, requestsTimeout: opts.deadlineMs }));
  const nsp = io.of("/bench");
  nsp.use((socket, next) => {
    const token = socket.handshake.auth?.token;
    socket.data.user = typeof token === "string" ? { id: token } : null;
    next();
  });
  nsp.on("connection", (socket) => socket.join("lobby"));
  calls.fetchSockets = async (a) => {
    const sockets = await (typeof a.room === "string" ? nsp.in(a.room) : nsp).fetchSockets();
    return { count: sockets.length };
  };
  serveRunner(async () => {
    io.close();
    pub.disconnect();
    sub.disconnect();
  });
  port = await new Promise<number>((resolve) =>
    httpServer.listen(0, "127.0.0.1", () => {
      const addr = httpServer.address();
      resolve(typeof addr === "object" && addr ? addr.port : 0);
    }),
  );
}

process.on("message", async (msg: { type: string; id?: number; op?: string; args?: Record<string, unknown> }) => {
  if (msg.type === "instance") {
    report({ type: "instance", id: instanceId });
    return;
  }
  if (msg.type !== "call") return;
  const call = calls[msg.op ?? ""];
  const started = performance.now();
  try {
    if (!call) throw new Error(`no call ${String(msg.op)} on a ${opts.kind} instance`);
    const result = await call(msg.args ?? {});
    report({ type: `called-${msg.id}`, ms: performance.now() - started, result });
  } catch (err) {
    report({ type: `called-${msg.id}`, ms: performance.now() - started, error: err instanceof Error ? err.message : String(err) });
  }
});

report({ type: "ready", port });
