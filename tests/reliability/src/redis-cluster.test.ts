/**
 * Loly's cluster mode on a real Redis Cluster (SPEC 12): a 3-master cluster started by the test
 * from `redis-server --cluster-enabled yes` and `redis-cli --cluster create` on loopback ports,
 * two Loly instances in their own processes given only its seed nodes (`scale.adapter.cluster`):
 * room broadcasts across instances, an exact shared counter, presence (and a SIGKILLed
 * instance's users expiring), the per-IP connection limit, a cluster-wide rate limit and
 * connection-state recovery, as on one Redis. And a Sentinel: the client is built from
 * `sentinel: { sentinels, name }` and works through it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { io, type Socket } from "socket.io-client";
import { defineWssRoute } from "@loly-rt/core";
import { killWithThisProcess } from "../../setup/child.js";
import { startRedisCluster, type OwnRedisCluster } from "../../setup/redis-cluster.js";
import { freePort, startRedisServer, stopRedisServer } from "../../setup/redis-server.js";
import { request, startServer } from "../../../packages/server/src/test-helpers.js";
import { startBalancer, type Balancer } from "./support/balancer.js";
import { startInstance, type Proc, sleep } from "./support/procs.js";

const PREFIX = "rel-rc:";
let cluster: OwnRedisCluster;
let a: Proc;
let b: Proc;
const clients: Socket[] = [];

const config = () => ({
  logging: { level: "warn" as const, pretty: false },
  scale: {
    mode: "cluster" as const,
    adapter: { type: "redis" as const, cluster: cluster.seeds },
    stateStore: { type: "redis" as const, prefix: PREFIX },
  },
  presence: { ttlMs: 1500 },
  // Each test's clients come from an address of their own (x-forwarded-for from the loopback
  // peer, trusted): one test's connections never count against another's limit.
  trustProxy: ["loopback"],
  limits: { connectionsPerIp: 6, eventsPerSecond: 1000, burst: 1000 },
  shutdown: { graceMs: 1000, drainMs: 200 },
});

/** The client address of the test running now (see `trustProxy` above). */
let clientIp = "10.9.0.1";
let nextIp = 1;
beforeEach(() => {
  clientIp = `10.9.0.${++nextIp}`;
});

function connect(url: string, token: string, extra: Record<string, unknown> = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const c = io(`${url}/rel`, {
      path: "/wss",
      transports: ["websocket"],
      extraHeaders: { "x-forwarded-for": clientIp },
      auth: { token },
      reconnectionDelay: 300,
      reconnectionDelayMax: 300,
      randomizationFactor: 0,
      ...extra,
    });
    clients.push(c);
    c.once("connect", () => resolve(c));
    c.once("connect_error", (err) => reject(err));
  });
}
const closeAll = async (): Promise<void> => {
  for (const c of clients.splice(0)) c.close();
  // The per-IP count is released by the server once it sees each close.
  await sleep(300);
};

async function eventually<T>(check: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met in time (last: ${JSON.stringify(v)})`);
    await sleep(100);
  }
}

describe("cluster mode on a 3-master Redis Cluster", () => {
  beforeAll(async () => {
    cluster = await startRedisCluster(3, 0);
    [a, b] = await Promise.all([startInstance(config()), startInstance(config())]);
  }, 60_000);
  afterAll(async () => {
    await closeAll();
    await Promise.all([a?.kill(), b?.kill()]);
    await cluster?.stop();
  });

  it("room broadcasts and toUser cross instances, the counter is exact, presence sees both", { timeout: 30_000 }, async () => {
    const alice = await connect(a.url, "alice");
    const bob = await connect(b.url, "bob");
    expect((await request(alice, "join", "lobby")).ok).toBe(true);
    const said = new Promise<{ seq: number; via: number }>((r) => alice.once("said", r));
    await request(bob, "say", { room: "lobby", seq: 1 });
    expect(await said).toEqual({ seq: 1, via: b.proc.pid });
    // toUser reaches the user's socket on the other instance.
    const told = new Promise<{ seq: number; via: number }>((r) => alice.once("told", r));
    expect((await request(bob, "tell", { user: "alice", seq: 2 })).ok).toBe(true);
    expect(await told).toEqual({ seq: 2, via: b.proc.pid });
    const counts = await Promise.all(Array.from({ length: 40 }, (_, i) => request(i % 2 ? alice : bob, "incr")));
    expect(counts.every((c) => c.ok)).toBe(true);
    expect(Math.max(...counts.map((c) => c.data as number))).toBe(40);
    expect(new Set(counts.map((c) => c.data)).size).toBe(40);
    const users = await eventually(
      async () => ((await request(alice, "users")).data as string[]).sort(),
      (u) => u.includes("alice") && u.includes("bob"),
    );
    expect(users).toEqual(["alice", "bob"]);
    await closeAll();
  });

  it("the per-IP limit and an ip/user rate limit hold across both instances", { timeout: 30_000 }, async () => {
    const open: Socket[] = [];
    for (let i = 0; i < 6; i++) open.push(await connect(i % 2 ? b.url : a.url, "carol"));
    await expect(connect(a.url, "carol")).rejects.toThrow("TOO_MANY_CONNECTIONS");
    await expect(connect(b.url, "carol")).rejects.toThrow("TOO_MANY_CONNECTIONS");
    // perUser: burst 5 per user, cluster-wide.
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await request(open[i % 6] as Socket, "perUser"));
    expect(answers.filter((r) => r.ok).length).toBe(5);
    expect(answers.filter((r) => !r.ok).every((r) => r.error.code === "RATE_LIMIT")).toBe(true);
    await closeAll();
  });

  it("recovery: a cut client comes back through the other instance with every missed event", { timeout: 30_000 }, async () => {
    let balancer: Balancer | undefined = await startBalancer([a.port]);
    try {
      const dave = await connect(balancer.url, "dave");
      const erin = await connect(b.url, "erin");
      expect((await request(dave, "join", "den")).ok).toBe(true);
      const got: number[] = [];
      dave.on("said", (m: { seq: number }) => got.push(m.seq));
      await request(erin, "say", { room: "den", seq: 1 });
      await eventually(
        async () => got.length,
        (n) => n === 1,
      );
      balancer.setBackends([b.port]);
      const away = new Promise((r) => dave.once("disconnect", r));
      await a.call("cut", { id: dave.id });
      await away;
      for (let seq = 2; seq <= 4; seq++) await request(erin, "say", { room: "den", seq });
      await new Promise<void>((r) => (dave.connected ? r() : dave.once("connect", () => r())));
      expect(dave.recovered).toBe(true);
      await eventually(
        async () => got.length,
        (n) => n >= 4,
      );
      await sleep(100);
      expect(got).toEqual([1, 2, 3, 4]);
    } finally {
      await closeAll();
      await balancer?.close();
      balancer = undefined;
    }
  });

  it("a SIGKILLed instance's users leave presence within presence.ttlMs", { timeout: 30_000 }, async () => {
    const frank = await connect(a.url, "frank");
    const grace = await connect(b.url, "grace");
    await eventually(
      async () => (await request(grace, "users")).data as string[],
      (u) => u.includes("frank"),
    );
    void frank;
    await a.kill();
    const users = await eventually(
      async () => (await request(grace, "users")).data as string[],
      (u) => !u.includes("frank"),
      5000,
    );
    expect(users).toContain("grace");
    await closeAll();
  });
});

describe("Redis Sentinel", () => {
  it("the client is built from sentinel: { sentinels, name } and the store works through it", { timeout: 30_000 }, async () => {
    const masterPort = await freePort();
    const master = await startRedisServer(masterPort);
    const sentinelPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "loly-sentinel-"));
    const conf = join(dir, "sentinel.conf");
    writeFileSync(conf, `port ${sentinelPort}\nbind 127.0.0.1\nsentinel monitor lolytest 127.0.0.1 ${masterPort} 1\n`);
    const sentinel = spawn("redis-server", [conf, "--sentinel"], { stdio: "ignore" });
    killWithThisProcess(sentinel, dir);
    try {
      await sleep(500);
      const route = defineWssRoute({ events: { bump: (ctx) => ctx.state.incr("bumps") } });
      const srv = await startServer(
        { "/s": route },
        {
          scale: {
            stateStore: {
              type: "redis",
              prefix: "rel-sentinel:",
              sentinel: { sentinels: [`redis://127.0.0.1:${sentinelPort}`], name: "lolytest" },
            },
          },
        },
      );
      try {
        const s = srv.connect("/s");
        await new Promise<void>((r) => s.once("connect", () => r()));
        expect(await request(s, "bump")).toEqual({ ok: true, data: 1 });
        expect(await request(s, "bump")).toEqual({ ok: true, data: 2 });
        expect(srv.rt.health()).toMatchObject({ ok: true, details: { state: "ready" } });
      } finally {
        await srv.close();
      }
    } finally {
      sentinel.kill("SIGKILL");
      await stopRedisServer(master);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
