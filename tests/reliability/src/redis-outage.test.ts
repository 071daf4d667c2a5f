/**
 * Redis goes away under load and comes back (a redis-server of the test's own, killed and
 * restarted on the same port, empty: no persistence). Two instances in their own processes:
 * A admits when the cluster limiter's store is unreachable (`limits.onStoreError: "allow"`),
 * B refuses (`"deny"`). Measured: store-call waits during the outage, limiter decision times,
 * how long cross-instance delivery, presence and connection counts take to come back.
 */
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Socket } from "socket.io-client";
import { Redis } from "ioredis";
import type { RealtimeConfigInput } from "@loly-rt/core";
import { createRealtimeServer } from "@loly-rt/server";
import { memoryLogger } from "../../../packages/server/src/test-helpers.js";
import { askRaw, closeClients, connectClient, eventually } from "./support/clients.js";
import { FATAL_MARKER, freePort, sleep, startInstance, startOwnRedis, type OwnRedis, type Proc } from "./support/procs.js";

const COMMAND_TIMEOUT = 500;
const PRESENCE_TTL = 1500;
/** Override with LOLY_OUTAGE_MS to measure a longer outage (ioredis backs off up to 2 s between attempts). */
const OUTAGE_MS = Number(process.env.LOLY_OUTAGE_MS ?? 2500);
const PREFIX = "rel-outage:";

/** Classic pub/sub (recovery on, the default) and sharded fan-out (recovery off). */
const MODES = ["classic", "sharded"] as const;

function config(url: string, onStoreError: "allow" | "deny", pubsub: (typeof MODES)[number] = "classic"): RealtimeConfigInput {
  return {
    logging: { level: "info", pretty: false },
    ...(pubsub === "sharded" ? { recovery: false as const } : {}),
    scale: {
      mode: "cluster",
      adapter: { type: "redis", url, pubsub },
      stateStore: { type: "redis", url, prefix: PREFIX },
      commandTimeoutMs: COMMAND_TIMEOUT,
    },
    presence: { ttlMs: PRESENCE_TTL },
    limits: { eventsPerSecond: 1000, burst: 1000, connectionsPerIp: 1000, onStoreError },
  };
}

/** Sends `say` to a room every `everyMs` and records when each member received which seq. */
class Load {
  seq = 0;
  readonly sentAt = new Map<number, number>();
  readonly received = new Map<Socket, Map<number, number>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sender: Socket,
    readonly members: Socket[],
  ) {
    for (const m of members) {
      const got = new Map<number, number>();
      this.received.set(m, got);
      m.on("said", (p: { seq: number }) => got.set(p.seq, Date.now()));
    }
  }
  start(everyMs: number): void {
    this.timer = setInterval(() => {
      const seq = ++this.seq;
      this.sentAt.set(seq, Date.now());
      this.sender.emit("say", { room: "load", seq });
    }, everyMs);
  }
  stop(): void {
    clearInterval(this.timer);
  }
  /** Seqs sent within [from, to) and how many of them `member` received. */
  delivered(member: Socket, from: number, to: number): { sent: number; got: number } {
    const got = this.received.get(member) as Map<number, number>;
    let sent = 0;
    let n = 0;
    for (const [seq, at] of this.sentAt) {
      if (at < from || at >= to) continue;
      sent++;
      if (got.has(seq)) n++;
    }
    return { sent, got: n };
  }
  /** First seq sent at or after `t` that `member` received: ms from `t` to its arrival. */
  firstAfter(member: Socket, t: number): number | undefined {
    const got = this.received.get(member) as Map<number, number>;
    let best: number | undefined;
    for (const [seq, at] of got) if ((this.sentAt.get(seq) ?? 0) >= t && (best === undefined || at < best)) best = at;
    return best === undefined ? undefined : best - t;
  }
}

/** Times an ack round trip; resolves the answer and the ms it took. */
async function timed(s: Socket, event: string, payload?: unknown): Promise<{ res: Awaited<ReturnType<typeof askRaw>>; ms: number }> {
  const started = Date.now();
  const res = await askRaw(s, event, payload);
  return { res, ms: Date.now() - started };
}

function countLogs(p: Proc, match: (l: Record<string, unknown>) => boolean): number {
  return p.logs().filter(match).length;
}

describe.each(MODES)("Redis outage under load, %s pub/sub", (pubsub) => {
  let redis: OwnRedis;
  let a: Proc;
  let b: Proc;
  const figures: Record<string, number | string> = {};

  beforeAll(async () => {
    redis = await startOwnRedis();
    [a, b] = await Promise.all([startInstance(config(redis.url, "allow", pubsub)), startInstance(config(redis.url, "deny", pubsub))]);
  });
  afterAll(async () => {
    closeClients();
    await Promise.all([a?.kill(), b?.kill()]);
    await redis?.kill();
    console.log(`[figure] redis outage, ${pubsub}: ${JSON.stringify(figures)}`);
  });

  it("keeps serving through an outage and restores fan-out, presence and counts after it", { timeout: 60_000 }, async () => {
    const sender = await connectClient(a.url, "/rel", { token: "ua1", room: "load" });
    const localMember = await connectClient(a.url, "/rel", { token: "ua2", room: "load" });
    const remoteMember = await connectClient(b.url, "/rel", { token: "ub1", room: "load" });
    const onB = await connectClient(b.url, "/rel", { token: "ub2" });
    const load = new Load(sender, [localMember, remoteMember]);
    load.start(25);
    await eventually(async () => (load.firstAfter(remoteMember, Date.now() - 200) ?? Infinity) < 1000, 5000, 50);
    expect((await askRaw(onB, "users")).data).toEqual(expect.arrayContaining(["ua1", "ua2", "ub1", "ub2"]));

    // ---- outage
    await redis.kill();
    const down = Date.now();
    await sleep(300);

    // store calls: UNAVAILABLE within the command timeout (plus the round trip)
    let maxStoreWait = 0;
    for (const s of [sender, onB]) {
      for (let i = 0; i < 3; i++) {
        const { res, ms } = await timed(s, "incr");
        expect(res).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
        maxStoreWait = Math.max(maxStoreWait, ms);
      }
    }
    const presence = await timed(onB, "users");
    expect(presence.res).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
    maxStoreWait = Math.max(maxStoreWait, presence.ms);
    figures.maxStoreWaitMs = maxStoreWait;
    expect(maxStoreWait).toBeLessThan(COMMAND_TIMEOUT + 1000);

    // cluster limiter: A (allow) admits past the burst of 5, B (deny) refuses everything
    const allow = await Promise.all(Array.from({ length: 8 }, () => timed(sender, "perUser")));
    const deny = await Promise.all(Array.from({ length: 8 }, () => timed(onB, "perUser")));
    expect(allow.every((r) => r.res.ok)).toBe(true);
    expect(deny.every((r) => !r.res.ok && r.res.error?.code === "RATE_LIMIT")).toBe(true);
    figures.limiterDecisionMaxMs = Math.max(...allow.map((r) => r.ms), ...deny.map((r) => r.ms));
    expect(figures.limiterDecisionMaxMs).toBeLessThan(COMMAND_TIMEOUT + 1000);

    // events that touch no store run; a new connection is admitted on A (allow) within the bound
    expect((await timed(onB, "pid")).res.ok).toBe(true);
    const connectStarted = Date.now();
    const lateJoiner = await connectClient(a.url, "/rel", { token: "ua3" });
    figures.connectDuringOutageMs = Date.now() - connectStarted;
    expect((await askRaw(lateJoiner, "pid")).ok).toBe(true);

    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - down)));
    const restartAt = Date.now();
    // same-instance delivery never stopped
    // (the last 100 ms may still be in flight)
    const local = load.delivered(localMember, down, restartAt - 100);
    const remote = load.delivered(remoteMember, down, restartAt - 100);
    figures.outageLocalDelivered = `${local.got}/${local.sent}`;
    figures.outageCrossInstanceDelivered = `${remote.got}/${remote.sent}`;
    expect(local.sent).toBeGreaterThan(20);
    expect(local.got).toBe(local.sent);

    // ---- recovery
    await redis.restart();
    const up = Date.now();
    await eventually(async () => load.firstAfter(remoteMember, up) !== undefined, 15_000, 25);
    figures.crossInstanceBackMs = load.firstAfter(remoteMember, up) as number;

    const presenceBack = await eventually(
      async () => {
        const r = await askRaw(onB, "users");
        return r.ok && ["ua1", "ua2", "ua3", "ub1", "ub2"].every((u) => (r.data as string[]).includes(u));
      },
      15_000,
      50,
    );
    figures.presenceBackMs = Date.now() - up - 0 * presenceBack;

    // connection counts re-asserted: the live instances' counts for 127.0.0.1 sum to the open sockets
    const check = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    check.on("error", () => undefined);
    try {
      await eventually(
        async () => {
          const ids = await check.zrangebyscore(`${PREFIX}conn:instances`, Date.now() - 60_000, "+inf");
          let total = 0;
          for (const id of ids) total += Number((await check.hget(`${PREFIX}conn:i:${id}:c`, "127.0.0.1")) ?? 0);
          return total === 5;
        },
        15_000,
        50,
      );
      figures.connectionCountsBackMs = Date.now() - up;
    } finally {
      check.disconnect();
    }
    const store = await eventually(async () => (await askRaw(sender, "incr")).ok, 10_000, 50);
    expect(store).toBeGreaterThanOrEqual(0);
    await eventually(async () => (await askRaw(onB, "perUser")).ok, 10_000, 50);
    expect((await askRaw(sender, "perUser")).ok).toBe(true);
    load.stop();

    // warned once per outage per component, not per event (~100 broadcasts and 30 refusals happened)
    for (const [name, p, policy] of [
      ["A", a, "admitting"],
      ["B", b, "refusing"],
    ] as const) {
      expect(
        countLogs(p, (l) => String(l.msg).startsWith("cluster rate limiter unreachable")),
        `${name} limiter warnings`,
      ).toBe(1);
      expect(p.logs().some((l) => String(l.msg).includes(policy))).toBe(true);
      // (log lines reach this process through a pipe: they may trail the acks)
      await eventually(async () => countLogs(p, (l) => String(l.msg) === "cluster rate limiter is back") === 1, 3000, 20);
      const warnings = countLogs(p, (l) => l.level === 40);
      figures[`warnings${name}`] = warnings;
      expect(
        warnings,
        `${name} warnings: ${JSON.stringify(
          p
            .logs()
            .filter((l) => l.level === 40)
            .map((l) => l.msg),
        )}`,
      ).toBeLessThanOrEqual(8);
    }
    // nothing crashed, nothing unhandled
    for (const p of [a, b]) {
      expect(p.alive).toBe(true);
      expect(p.output.join("")).not.toContain(FATAL_MARKER);
    }
  });

  it("a second outage is warned again (once per outage, not once ever)", async () => {
    const s = await connectClient(a.url, "/rel", { token: "ua9" });
    expect((await askRaw(s, "perUser")).ok).toBe(true);
    const before = countLogs(a, (l) => String(l.msg).startsWith("cluster rate limiter unreachable"));
    await redis.kill();
    for (let i = 0; i < 5; i++) expect((await askRaw(s, "perUser")).ok).toBe(true);
    await redis.restart();
    await eventually(async () => (await askRaw(s, "incr")).ok, 10_000, 50);
    expect(countLogs(a, (l) => String(l.msg).startsWith("cluster rate limiter unreachable"))).toBe(before + 1);
    expect(a.alive && b.alive).toBe(true);
  });
});

describe("Redis at start-up", () => {
  it("createRealtimeServer rejects with a clear UNAVAILABLE error within its bound", async () => {
    const port = await freePort();
    const url = `redis://:s3cret@127.0.0.1:${port}`;
    const started = Date.now();
    const err = await createRealtimeServer({
      config: {
        logging: { level: "silent" },
        scale: { mode: "cluster", adapter: { type: "redis", url }, stateStore: { type: "redis", url }, commandTimeoutMs: 500 },
      },
      routes: {},
    }).then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    const ms = Date.now() - started;
    console.log(`[figure] start-up with Redis down rejected after ${ms} ms`);
    expect(err?.code).toBe("UNAVAILABLE");
    expect(err?.message).toContain(`cluster mode: Redis at redis://:***@127.0.0.1:${port}`);
    expect(err?.message).toMatch(/did not answer at start-up/);
    expect(err?.message).toMatch(/Start Redis or fix scale\.stateStore\.url/);
    expect(err?.message).not.toContain("s3cret");
    expect(ms).toBeLessThan(5000);
  });
  /**
   * Redis 6.0 cannot be installed here, so a minimal RESP server plays one: it answers every
   * command with +OK, and INFO with `redis_version:<version>`.
   */
  async function standIn(version: string): Promise<{ url: string; close: () => Promise<void> }> {
    const info = `# Server\r\nredis_version:${version}\r\nloading:0\r\n`;
    const open = new Set<import("node:net").Socket>();
    const server = createNetServer((sock) => {
      open.add(sock);
      sock.on("close", () => open.delete(sock));
      sock.on("data", (buf) => {
        // One reply per command in the chunk (RESP arrays start with '*').
        for (const cmd of buf.toString("latin1").split("*").slice(1)) {
          sock.write(/\r\ninfo\r\n/i.test(cmd) ? `$${Buffer.byteLength(info)}\r\n${info}\r\n` : "+OK\r\n");
        }
      });
      sock.on("error", () => {});
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return {
      url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: async () => {
        for (const sock of open) sock.destroy();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }

  it("a Redis older than 6.2 is refused with a clear INVALID_CONFIG error, not at the first rate-limit decision", async () => {
    const old = await standIn("6.0.16");
    try {
      const err = await createRealtimeServer({
        config: { scale: { mode: "cluster", adapter: { type: "redis", url: old.url }, stateStore: { type: "redis", url: old.url } } },
        logger: memoryLogger("warn").logger,
        routes: {},
      }).then(
        (rt) => rt.close().then(() => null),
        (e: unknown) => e as Error & { code?: string },
      );
      expect(err?.code).toBe("INVALID_CONFIG");
      expect(err?.message).toBe(
        `cluster mode needs Redis 6.2.0 or later; ${old.url} runs 6.0.16. Upgrade Redis or point scale.adapter.url / scale.stateStore.url at a newer one.`,
      );
    } finally {
      await old.close();
    }
  });

  it("sharded fan-out on a Redis 6.2 is refused with a clear INVALID_CONFIG error; auto falls back to classic pub/sub", async () => {
    const six = await standIn("6.2.14");
    try {
      const scale = (pubsub: "sharded" | "auto") => ({
        mode: "cluster" as const,
        adapter: { type: "redis" as const, url: six.url, pubsub },
        stateStore: { type: "redis" as const, url: six.url },
      });
      const err = await createRealtimeServer({
        config: { scale: scale("sharded"), recovery: false },
        logger: memoryLogger("warn").logger,
        routes: {},
      }).then(
        (rt) => rt.close().then(() => null),
        (e: unknown) => e as Error & { code?: string },
      );
      expect(err?.code).toBe("INVALID_CONFIG");
      expect(err?.message).toBe(
        `scale.adapter.pubsub "sharded" needs Redis 7.0.0 or later (SSUBSCRIBE); ${six.url} runs 6.2.14. Use "classic" or "auto".`,
      );
      const { logger, logs } = memoryLogger("debug");
      const rt = await createRealtimeServer({ config: { scale: scale("auto"), recovery: false }, logger, routes: {} });
      await rt.close();
      expect(logs.map((l) => l.msg)).toContain("adapter: classic pub/sub");
    } finally {
      await six.close();
    }
  });

  it("a Redis whose version is not a number (a fork, a proxy) starts, with a warning", async () => {
    const odd = await standIn("custom-build");
    const { logger, logs } = memoryLogger("warn");
    try {
      const rt = await createRealtimeServer({
        config: { scale: { mode: "cluster", adapter: { type: "redis", url: odd.url }, stateStore: { type: "redis", url: odd.url } } },
        logger,
        routes: {},
      });
      await rt.close();
      expect(logs.map((l) => l.msg)).toContain("Redis did not report a version number; cluster mode needs Redis 6.2.0 or later");
    } finally {
      await odd.close();
    }
  });
});
