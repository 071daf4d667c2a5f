/**
 * Soak: one Loly Realtime instance holds N concurrent websocket connections (default 10000),
 * every one a signed-in user in presence, in a room, answering heartbeats. Not a CI test.
 *
 *   ulimit -n 65536   # each side needs one descriptor per connection (plus some)
 *   TSX_TSCONFIG_PATH=tsconfig.json node --import tsx bench/soak/connections.ts
 *   TSX_TSCONFIG_PATH=tsconfig.json node --import tsx bench/soak/connections.ts --connections 10000 --mode cluster --hold 30
 *
 * Options: --connections N (10000), --mode single|cluster (single; cluster needs REDIS_URL or
 * a Redis at 127.0.0.1:6379), --hold S (seconds to hold every connection, 30; the server pings
 * every 10 s so heartbeats run), --batch N (connections opened at once, 250).
 *
 * The server runs in its own process (the reliability suites' fixture, with --expose-gc);
 * clients are raw Engine.IO websockets in this process. Prints memory (after GC) and times.
 */
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { RawSocket } from "../../tests/reliability/src/support/raw.js";
import { startInstance, type Proc } from "../../tests/reliability/src/support/procs.js";

const { values } = parseArgs({
  options: {
    connections: { type: "string", default: "10000" },
    mode: { type: "string", default: "single" },
    hold: { type: "string", default: "30" },
    batch: { type: "string", default: "250" },
  },
});
const N = Number(values.connections);
const MODE = values.mode === "cluster" ? "cluster" : "single";
const HOLD_S = Number(values.hold);
const BATCH = Number(values.batch);
const PREFIX = `loly-soak:${process.pid}:`;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

interface Stats {
  heapUsed: number;
  rss: number;
  sockets: number;
  engineClients: number;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const started = Date.now();
  const srv: Proc = await startInstance(
    {
      logging: { level: "warn", pretty: false },
      pingIntervalMs: 10_000,
      pingTimeoutMs: 20_000,
      limits: { connectionsPerIp: N + 100 },
      scale:
        MODE === "cluster"
          ? { mode: "cluster", adapter: { type: "redis", url: REDIS_URL }, stateStore: { type: "redis", url: REDIS_URL, prefix: PREFIX } }
          : { mode: "single" },
    },
    { execArgv: ["--expose-gc"] },
  );
  const sockets: RawSocket[] = [];
  try {
    const base = await srv.call<Stats>("stats", {}, 60_000);
    console.log(`soak: ${N} websocket connections, ${MODE} mode, presence on; server idle: heap ${mb(base.heapUsed)}, RSS ${mb(base.rss)}`);

    const openStart = Date.now();
    for (let i = 0; i < N; i += BATCH) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(BATCH, N - i) }, async (_, j) => {
          const raw = await RawSocket.open(srv.url);
          const reply = await raw.connect("/rel", { token: `user-${i + j}`, room: "all" });
          if (!reply.startsWith("40")) throw new Error(`connection ${i + j} refused: ${reply}`);
          return raw;
        }),
      );
      sockets.push(...batch);
    }
    const openMs = Date.now() - openStart;
    console.log(`opened ${sockets.length} in ${openMs} ms (${Math.round((sockets.length / openMs) * 1000)} connections/s)`);

    // every onConnect has joined "all" once a room query sees everyone
    const probe = sockets[0] as RawSocket;
    let ackId = 1_000_000;
    const ask = async (args: unknown[]): Promise<string[]> => ((await probe.emit("/rel", args, ackId++)) as { data: string[] }).data ?? [];
    let online = 0;
    for (let i = 0; i < 100; i++) {
      online = (await ask(["users"])).length;
      if (online === N && (await ask(["roomUsers", "all"])).length === N) break;
      await sleep(200);
    }
    console.log(`presence: ${online} users online`);

    const held = await srv.call<Stats>("stats", {}, 60_000);
    const perConn = (held.heapUsed - base.heapUsed) / N;
    const perConnRss = (held.rss - base.rss) / N;
    console.log(
      `server holding ${held.sockets} sockets: heap ${mb(held.heapUsed)} (+${(perConn / 1024).toFixed(1)} KB per connection), ` +
        `RSS ${mb(held.rss)} (+${(perConnRss / 1024).toFixed(1)} KB per connection)`,
    );

    // fan-out: one broadcast to the room of all N sockets
    let got = 0;
    const allGot = new Promise<void>((resolve) => {
      for (const s of sockets) {
        s.ws.on("message", (d: Buffer) => {
          if (d.toString().startsWith('42/rel,["said",{"seq":424242')) {
            got++;
            if (got === N) resolve();
          }
        });
      }
    });
    const fanStart = Date.now();
    probe.emit("/rel", ["say", { room: "all", seq: 424242 }]);
    await Promise.race([allGot, sleep(60_000)]);
    const fanMs = Date.now() - fanStart;
    console.log(`broadcast to the room of ${N}: ${got} delivered in ${fanMs} ms`);

    console.log(`holding for ${HOLD_S} s (server pings every 10 s)...`);
    await sleep(HOLD_S * 1000);
    const open = sockets.filter((s) => s.isOpen).length;
    const after = await srv.call<Stats>("stats", {}, 60_000);
    console.log(
      `after ${HOLD_S} s: ${open} client sockets open, server holds ${after.sockets}; heap ${mb(after.heapUsed)}, RSS ${mb(after.rss)}`,
    );

    const summary = {
      connections: N,
      mode: MODE,
      openMs,
      perSecond: Math.round((N / openMs) * 1000),
      presenceOnline: online,
      heapIdleMB: +(base.heapUsed / 1e6).toFixed(1),
      heapHeldMB: +(held.heapUsed / 1e6).toFixed(1),
      heapPerConnKB: +(perConn / 1024).toFixed(1),
      rssIdleMB: +(base.rss / 1e6).toFixed(1),
      rssHeldMB: +(held.rss / 1e6).toFixed(1),
      rssPerConnKB: +(perConnRss / 1024).toFixed(1),
      fanoutMs: fanMs,
      fanoutDelivered: got,
      stillOpenAfterHold: open,
      totalS: Math.round((Date.now() - started) / 1000),
    };
    console.log(`SOAK ${JSON.stringify(summary)}`);
    if (online !== N || got !== N || open !== N) process.exitCode = 1;
  } finally {
    for (const s of sockets) s.close();
    await srv.stop();
    if (MODE === "cluster") {
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${PREFIX}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  }
}

await main();
