/**
 * The attack suite: hostile or slow clients against a real server process, each attack
 * returning its figures. `attacks.test.ts` runs short versions in `pnpm test`; the full sizes
 * (a 60 s flood, 20,000 namespaces, 2,000 hanging auths, 1,000 idle TCP connections) run with
 * `bench/soak/attacks.ts` and are recorded in docs/reliability.md.
 */
import { connect } from "node:net";
import { io, type Socket } from "socket.io-client";
import { spawnTsFixture } from "../../../setup/child.js";
import { RawSocket } from "./raw.js";
import type { Proc } from "./procs.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const here = new URL(".", import.meta.url).pathname;
const MB = 1e6;

interface Stats {
  heapUsed: number;
  sockets: number;
  nsps: number;
  engineClients: number;
}

/** The server's heap after GC, and what it holds. */
export const stats = (srv: Proc): Promise<Stats> => srv.call<Stats>("stats", {}, 30_000);

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? Number.NaN;
}

/** A well-behaved client asking `echo` every `everyMs`; `take()` returns the ack latencies since the last take. */
function bystander(url: string, everyMs: number): { ready: Promise<void>; take(): number[]; close(): void } {
  const socket: Socket = io(`${url}/rel`, { path: "/wss", transports: ["websocket"], auth: { token: "bystander" } });
  let samples: number[] = [];
  const timer = setInterval(() => {
    if (!socket.connected) return;
    const started = performance.now();
    socket
      .timeout(10_000)
      .emitWithAck("echo", { n: 1 })
      .then(
        () => samples.push(performance.now() - started),
        () => samples.push(10_000),
      );
  }, everyMs);
  return {
    ready: new Promise((resolve) => socket.once("connect", () => resolve())),
    take() {
      const out = samples;
      samples = [];
      return out;
    },
    close() {
      clearInterval(timer);
      socket.close();
    },
  };
}

/** What the flood did. */
export interface FloodFigures {
  transport: "websocket" | "polling";
  seconds: number;
  eventsSent: number;
  heapBeforeMB: number;
  heapPeakMB: number;
  heapGrowthMB: number;
  disconnectedAfterMs: number | null;
  /** Connections the flooder opened (it reconnects as soon as it is closed). */
  connections: number;
  slowConsumers: number;
  bystanderIdleP99Ms: number;
  bystanderFloodP99Ms: number;
}

async function slowConsumers(srv: Proc): Promise<number> {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  return Number(/^loly_slow_consumers_total (\d+)/m.exec(text)?.[1] ?? 0);
}

/** Runs the flooding client (fixtures/flooder.ts) in its own process; resolves its figures. */
function runFlooder(
  url: string,
  transport: "websocket" | "polling",
  seconds: number,
): Promise<{ sent: number; connections: number; firstClosedAfterMs: number | null }> {
  const child = spawnTsFixture(`${here}../fixtures/flooder.ts`, {
    env: { LOLY_FLOOD_URL: url, LOLY_FLOOD_TRANSPORT: transport, LOLY_FLOOD_SECONDS: String(seconds) },
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => process.stderr.write(d));
  return new Promise((resolve, reject) => {
    child.once("exit", () => {
      try {
        resolve(JSON.parse(out.trim().split("\n").pop() ?? ""));
      } catch {
        reject(new Error(`flooder printed no figures: ${out}`));
      }
    });
  });
}

/**
 * A client that sends acked events as fast as it can for `seconds` and never reads what the
 * server answers (a websocket that stopped reading, or a polling client that never polls),
 * reconnecting whenever it is closed, while a well-behaved client measures its ack latency.
 */
export async function flood(srv: Proc, transport: "websocket" | "polling", seconds: number): Promise<FloodFigures> {
  // 20 requests a second: inside the default global bucket (30/s), as a well-behaved client is.
  const by = bystander(srv.url, 50);
  await by.ready;
  await sleep(5000);
  const idle = by.take();
  const before = await stats(srv);
  let peak = before.heapUsed;
  // The heap as it is, garbage included (an upper bound): a GC'd reading would stall the server it measures.
  const sampler = setInterval(() => {
    void srv.call<number>("heap").then(
      (heap) => (peak = Math.max(peak, heap)),
      () => undefined,
    );
  }, 500);
  const flooder = await runFlooder(srv.url, transport, seconds);
  clearInterval(sampler);
  const during = by.take();
  by.close();
  await sleep(500);
  const after = await stats(srv);
  return {
    transport,
    seconds,
    eventsSent: flooder.sent,
    heapBeforeMB: before.heapUsed / MB,
    heapPeakMB: Math.max(peak, after.heapUsed) / MB,
    heapGrowthMB: (Math.max(peak, after.heapUsed) - before.heapUsed) / MB,
    disconnectedAfterMs: flooder.firstClosedAfterMs,
    connections: flooder.connections,
    slowConsumers: await slowConsumers(srv),
    bystanderIdleP99Ms: p99(idle),
    bystanderFloodP99Ms: p99(during),
  };
}

/** What one connection got asking for `count` namespaces. */
export interface NamespaceFigures {
  attempted: number;
  connected: number;
  refused: Record<string, number>;
  heapGrowthMB: number;
  nspsLeft: number;
}

/** One connection CONNECTs to `count` dynamic namespaces as fast as it can. */
export async function manyNamespaces(srv: Proc, count: number): Promise<NamespaceFigures> {
  const before = await stats(srv);
  const raw = await RawSocket.open(srv.url);
  const refused: Record<string, number> = {};
  let connected = 0;
  const answers = new Promise<void>((resolve) => {
    let seen = 0;
    raw.ws.on("message", (data) => {
      const frame = data.toString();
      const m = /^4([04])\/rooms\/\d+,(.*)$/.exec(frame);
      if (!m) return;
      if (m[1] === "0") connected++;
      else {
        const code = (JSON.parse(m[2] as string) as { message: string }).message;
        refused[code] = (refused[code] ?? 0) + 1;
      }
      if (++seen === count) resolve();
    });
  });
  for (let i = 0; i < count; i++) raw.send(`40/rooms/${i},{"token":"ns-${i}"}`);
  await Promise.race([answers, sleep(30_000)]);
  const during = await stats(srv);
  raw.close();
  await sleep(500);
  const after = await stats(srv);
  return {
    attempted: count,
    connected,
    refused,
    heapGrowthMB: (during.heapUsed - before.heapUsed) / MB,
    nspsLeft: after.nsps - before.nsps,
  };
}

/** What `count` CONNECTs to an auth hook that never settles left behind. */
export interface HangingAuthFigures {
  attempted: number;
  refused: Record<string, number>;
  socketsLeft: number;
  nspsLeft: number;
  heapGrowthMB: number;
}

/** `count` CONNECTs to `/hang` (16 per connection, the default namespaces per connection). */
export async function hangingAuths(srv: Proc, count: number, perConnection = 16): Promise<HangingAuthFigures> {
  const before = await stats(srv);
  const refused: Record<string, number> = {};
  const connections: RawSocket[] = [];
  const answers: Array<Promise<void>> = [];
  for (let sent = 0; sent < count; sent += perConnection) {
    const raw = await RawSocket.open(srv.url);
    connections.push(raw);
    const n = Math.min(perConnection, count - sent);
    answers.push(
      new Promise<void>((resolve) => {
        let seen = 0;
        raw.ws.on("message", (data) => {
          const frame = data.toString();
          if (!frame.startsWith("44/hang,")) return;
          const code = (JSON.parse(frame.slice("44/hang,".length)) as { message: string }).message;
          refused[code] = (refused[code] ?? 0) + 1;
          if (++seen === n) resolve();
        });
      }),
    );
    // The same namespace n times over one connection: each CONNECT is a new socket.
    for (let i = 0; i < n; i++) raw.send("40/hang,{}");
  }
  await Promise.race([Promise.all(answers), sleep(60_000)]);
  for (const raw of connections) raw.close();
  await sleep(500);
  const after = await stats(srv);
  return {
    attempted: count,
    refused,
    socketsLeft: after.sockets - before.sockets,
    nspsLeft: after.nsps - before.nsps,
    heapGrowthMB: (after.heapUsed - before.heapUsed) / MB,
  };
}

/** What happened to `count` TCP connections that never send a byte. */
export interface IdleTcpFigures {
  opened: number;
  closedWithinMs: number;
  stillOpen: number;
}

/** Opens `count` TCP connections to the server that send nothing; resolves when the server closed them (or after `waitMs`). */
export async function idleTcp(srv: Proc, count: number, waitMs = 20_000): Promise<IdleTcpFigures> {
  const started = Date.now();
  let last = 0;
  let opened = 0;
  const byServer = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<boolean>((resolve) => {
          let ours = false;
          const socket = connect(srv.port, "127.0.0.1", () => opened++);
          socket.on("error", () => undefined);
          socket.resume(); // read (nothing comes), so the server's FIN is seen
          const timer = setTimeout(() => {
            ours = true;
            socket.destroy();
          }, waitMs);
          socket.once("close", () => {
            clearTimeout(timer);
            if (!ours) last = Math.max(last, Date.now() - started);
            resolve(!ours);
          });
        }),
    ),
  );
  return { opened, closedWithinMs: last, stillOpen: byServer.filter((closed) => !closed).length };
}
