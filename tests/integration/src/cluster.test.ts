/**
 * Acceptance (SPEC section 7, items 1, 2, 3, 6): two OS processes, one real Redis, real
 * socket.io-client sockets. Each run has its own key prefix and deletes its keys after.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RealtimeConfigInput } from "@loly-rt/core";
import { deleteKeys, redisUrl, testPrefix } from "../../setup/redis.js";
import { ask, askRaw, closeSockets, connectTo, eventually, next, refusedBy, startInstance, type Instance } from "./harness.js";

const PRESENCE_TTL = 1500;

function clusterConfig(prefix: string, extra: RealtimeConfigInput = {}): RealtimeConfigInput {
  const url = redisUrl();
  return {
    logging: { level: "warn", pretty: false },
    scale: {
      mode: "cluster",
      adapter: { type: "redis", url },
      stateStore: { type: "redis", url, prefix },
    },
    presence: { ttlMs: PRESENCE_TTL },
    limits: { eventsPerSecond: 1000, burst: 1000, connectionsPerIp: 100 },
    ...extra,
  };
}

describe("cluster: two instances, one Redis", () => {
  const prefix = testPrefix("cluster");
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    [a, b] = await Promise.all([startInstance(clusterConfig(prefix)), startInstance(clusterConfig(prefix))]);
  });
  afterEach(() => closeSockets());
  afterAll(async () => {
    closeSockets();
    await Promise.all([a?.kill(), b?.kill()]);
    await deleteKeys(prefix);
  });

  it("runs the instances in two processes", async () => {
    const sa = await connectTo(a);
    const sb = await connectTo(b);
    const [pa, pb] = await Promise.all([ask<number>(sa, "pid"), ask<number>(sb, "pid")]);
    expect(pa).not.toBe(pb);
    expect(pa).toBe(a.proc.pid);
  });

  it("delivers a room broadcast to members on both instances (1)", async () => {
    const onA = await connectTo(a, { userId: "ra" });
    const onB = await connectTo(b, { userId: "rb" });
    const outsider = await connectTo(b, { userId: "rc" });
    await ask(onA, "join", "room-1");
    await ask(onB, "join", "room-1");
    const gotA = next<{ text: string }>(onA, "said");
    const gotB = next<{ text: string }>(onB, "said");
    let leaked = false;
    outsider.on("said", () => (leaked = true));
    await ask(onA, "say", { room: "room-1", text: "hello both" });
    expect((await gotA).text).toBe("hello both");
    expect((await gotB).text).toBe("hello both");
    await new Promise((r) => setTimeout(r, 100));
    expect(leaked).toBe(false);
  });

  it("keeps a counter exact under concurrent increments through both instances (2)", async () => {
    const clients = await Promise.all([connectTo(a), connectTo(a), connectTo(b), connectTo(b)]);
    const start = (await ask<number | null>(clients[0]!, "get")) ?? 0;
    const perClient = 50;
    await Promise.all(clients.map((c) => Promise.all(Array.from({ length: perClient }, () => ask(c, "incr")))));
    expect(await ask<number>(clients[3]!, "get")).toBe(start + clients.length * perClient);
  });

  it("answers the same presence from both instances (3)", async () => {
    await connectTo(a, { userId: "p-alice" });
    await connectTo(b, { userId: "p-bob" });
    const qa = await connectTo(a);
    const qb = await connectTo(b);
    const fromA = (await ask<string[]>(qa, "users")).filter((u) => u.startsWith("p-")).sort();
    const fromB = (await ask<string[]>(qb, "users")).filter((u) => u.startsWith("p-")).sort();
    expect(fromA).toEqual(["p-alice", "p-bob"]);
    expect(fromB).toEqual(fromA);
    expect(await ask(qa, "online", "p-bob")).toBe(true);
    expect(await ask(qb, "online", "p-nobody")).toBe(false);
  });

  it("reaches every socket of a user on both instances with toUser", async () => {
    const u1 = await connectTo(a, { userId: "multi" });
    const u2 = await connectTo(b, { userId: "multi" });
    const sender = await connectTo(a, { userId: "sender" });
    const sockets = await ask<string[]>(sender, "socketsOf", "multi");
    expect(sockets.sort()).toEqual([u1.id, u2.id].sort());
    const g1 = next<{ text: string }>(u1, "dm");
    const g2 = next<{ text: string }>(u2, "dm");
    await ask(sender, "dm", { to: "multi", text: "to all my tabs" });
    expect((await g1).text).toBe("to all my tabs");
    expect((await g2).text).toBe("to all my tabs");
  });

  it("limits a user cluster-wide: a per-user bucket spans both instances (6)", async () => {
    const onA = await connectTo(a, { userId: "limited-user" });
    const onB = await connectTo(b, { userId: "limited-user" });
    const results = await Promise.all([
      ...Array.from({ length: 4 }, () => askRaw(onA, "perUser")),
      ...Array.from({ length: 4 }, () => askRaw(onB, "perUser")),
    ]);
    expect(results.filter((r) => r.ok).length).toBe(5);
    const refused = results.filter((r) => !r.ok);
    expect(refused).toHaveLength(3);
    expect(refused[0]!.error!.code).toBe("RATE_LIMIT");
    expect(refused[0]!.error!.details.retryAfterMs).toBeGreaterThan(0);
  });
});

describe("cluster: per-IP connection limit and crash safety", () => {
  const prefix = testPrefix("cluster-crash");
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    const cfg = clusterConfig(prefix, { limits: { eventsPerSecond: 1000, burst: 1000, connectionsPerIp: 3 } });
    [a, b] = await Promise.all([startInstance(cfg), startInstance(cfg)]);
  });
  afterAll(async () => {
    closeSockets();
    await Promise.all([a?.kill(), b?.kill()]);
    await deleteKeys(prefix);
  });

  it("holds the per-IP limit across instances (6)", async () => {
    const s1 = await connectTo(a);
    await connectTo(b);
    await connectTo(a);
    expect(await refusedBy(b)).toBe("TOO_MANY_CONNECTIONS");
    expect(await refusedBy(a)).toBe("TOO_MANY_CONNECTIONS");
    s1.disconnect();
    await eventually(async () => {
      try {
        await connectTo(b);
        return true;
      } catch {
        return false;
      }
    }, 3000);
    closeSockets();
  });

  it("drops a SIGKILLed instance's users from presence and IP counts within presence.ttlMs (3)", async () => {
    // the previous test's sockets are released asynchronously: wait for a free slot
    let first: Awaited<ReturnType<typeof connectTo>> | undefined;
    await eventually(
      async () => {
        first = await connectTo(a, { userId: "k-watcher" }).catch(() => undefined);
        return first !== undefined;
      },
      3000,
      50,
    );
    if (!first) throw new Error("unreachable");
    const watcher = first;
    await connectTo(b, { userId: "k-victim-1" });
    await connectTo(b, { userId: "k-victim-2" });
    const before = await ask<string[]>(watcher, "users");
    expect(before).toEqual(expect.arrayContaining(["k-watcher", "k-victim-1", "k-victim-2"]));
    const killedAt = Date.now();
    await b.kill();
    const staleness = await eventually(
      async () => {
        const users = await ask<string[]>(watcher, "users");
        return !users.includes("k-victim-1") && !users.includes("k-victim-2");
      },
      PRESENCE_TTL * 3,
      50,
    );
    const measured = Date.now() - killedAt;
    console.log(`presence staleness after SIGKILL: ${measured} ms (ttl ${PRESENCE_TTL} ms)`);
    expect(staleness).toBeLessThanOrEqual(PRESENCE_TTL + 1000);
    expect(await ask<string[]>(watcher, "users")).toContain("k-watcher");
    // the dead instance's two connections no longer count against the IP (limit 3: watcher + 2 new)
    const freed = await eventually(
      async () => {
        try {
          await connectTo(a);
          return true;
        } catch {
          return false;
        }
      },
      PRESENCE_TTL * 3,
      100,
    );
    expect(Date.now() - killedAt).toBeLessThanOrEqual(PRESENCE_TTL * 3);
    expect(freed).toBeGreaterThanOrEqual(0);
    await connectTo(a);
  });
});

describe("cluster: graceful stop", () => {
  const prefix = testPrefix("cluster-stop");

  it("SIGTERM drains: presence entries leave at once and the process exits", async () => {
    const [a, b] = await Promise.all([startInstance(clusterConfig(prefix)), startInstance(clusterConfig(prefix))]);
    try {
      const watcher = await connectTo(a, { userId: "g-watcher" });
      await connectTo(b, { userId: "g-leaver" });
      expect(await ask<string[]>(watcher, "users")).toContain("g-leaver");
      const code = await b.stop();
      expect(code).toBe(0);
      expect(b.output.join("")).toMatch(/CLOSED \d+/);
      // removed at close, not by expiry: visible at once
      expect(await ask<string[]>(watcher, "users")).not.toContain("g-leaver");
    } finally {
      closeSockets();
      await Promise.all([a.kill(), b.kill()]);
      await deleteKeys(prefix);
    }
  });
});
