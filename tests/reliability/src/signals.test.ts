/**
 * Process death. SIGKILL: the instance's users leave presence (and its connections stop
 * counting) within `presence.ttlMs`; the worst case over several runs is measured. SIGTERM:
 * graceful drain, onDisconnect hooks run, presence entries removed at once, the process exits
 * within a bound, even when a hook never settles.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RealtimeConfigInput } from "@loly-rt/core";
import { deleteKeys, redisUrl, testPrefix, testRedis } from "../../setup/redis.js";
import { ask, closeClients, connectClient, disconnected, eventually } from "./support/clients.js";
import { FATAL_MARKER, startInstance, type Proc } from "./support/procs.js";

/** LOLY_PRESENCE_TTL and LOLY_SIGKILL_RUNS measure other settings (e.g. the 15000 ms default). */
const PRESENCE_TTL = Number(process.env.LOLY_PRESENCE_TTL ?? 1500);
const RUNS = Number(process.env.LOLY_SIGKILL_RUNS ?? 3);

function clusterConfig(prefix: string, extra: RealtimeConfigInput = {}): RealtimeConfigInput {
  const url = redisUrl();
  return {
    logging: { level: "warn", pretty: false },
    scale: { mode: "cluster", adapter: { type: "redis", url }, stateStore: { type: "redis", url, prefix } },
    presence: { ttlMs: PRESENCE_TTL },
    limits: { eventsPerSecond: 1000, burst: 1000, connectionsPerIp: 1000 },
    ...extra,
  };
}

describe("SIGKILL: presence staleness", () => {
  const prefix = testPrefix("rel-kill");
  let watcherInstance: Proc;

  beforeAll(async () => {
    watcherInstance = await startInstance(clusterConfig(prefix));
  });
  afterAll(async () => {
    closeClients();
    await watcherInstance?.kill();
    await deleteKeys(prefix);
  });

  it(`drops a killed instance's users within presence.ttlMs (worst of ${RUNS} runs)`, {
    timeout: 60_000 + RUNS * PRESENCE_TTL * 4,
  }, async () => {
    const watcher = await connectClient(watcherInstance.url, "/rel", { token: "watcher" });
    const redis = testRedis();
    const stalenesses: number[] = [];
    try {
      for (let run = 0; run < RUNS; run++) {
        const victim = await startInstance(clusterConfig(prefix));
        const users = [`k${run}-1`, `k${run}-2`, `k${run}-3`];
        await Promise.all(users.map((u) => connectClient(victim.url, "/rooms/killed", { token: u })));
        await Promise.all(users.map((u) => connectClient(victim.url, "/rel", { token: u, room: "lobby" })));
        expect(await ask<string[]>(watcher, "users")).toEqual(expect.arrayContaining(users));
        // onConnect joins the room after the client got `connect`
        await eventually(
          async () => (await ask<string[]>(watcher, "roomUsers", "lobby")).filter((u) => users.includes(u)).length === users.length,
          5000,
          20,
        );
        // kill at a random point of the heartbeat cycle
        await new Promise((r) => setTimeout(r, Math.random() * (PRESENCE_TTL / 3)));
        const killedAt = Date.now();
        await victim.kill();
        for (;;) {
          const online = await ask<string[]>(watcher, "users");
          if (!users.some((u) => online.includes(u))) break;
          if (Date.now() - killedAt > PRESENCE_TTL * 3) throw new Error(`still online ${Date.now() - killedAt} ms after SIGKILL`);
          await new Promise((r) => setTimeout(r, 20));
        }
        stalenesses.push(Date.now() - killedAt);
        expect(await ask<string[]>(watcher, "roomUsers", "lobby")).not.toEqual(expect.arrayContaining([users[0]]));
      }
      // nothing of the dead instances is left in Redis once a heartbeat of the survivor ran
      await new Promise((r) => setTimeout(r, PRESENCE_TTL));
      const instances = await redis.zrange(`${prefix}presence:instances`, 0, -1);
      expect(instances).toHaveLength(1);
      const keys = await redis.keys(`${prefix}presence:i:*`);
      expect(keys.every((k) => k.includes(instances[0] as string))).toBe(true);
    } finally {
      redis.disconnect();
    }
    const worst = Math.max(...stalenesses);
    console.log(`[figure] presence staleness after SIGKILL (ttl ${PRESENCE_TTL} ms): runs ${stalenesses.join(", ")} ms; worst ${worst} ms`);
    expect(worst).toBeLessThanOrEqual(PRESENCE_TTL + 250);
  });
});

describe("SIGTERM: graceful drain", () => {
  const prefix = testPrefix("rel-term");
  afterEach(() => closeClients());
  afterAll(async () => {
    await deleteKeys(prefix);
  });

  it("runs every onDisconnect, removes presence at once and exits 0 within a bound", async () => {
    const [watcherInstance, victim] = await Promise.all([startInstance(clusterConfig(prefix)), startInstance(clusterConfig(prefix))]);
    const redis = testRedis();
    try {
      const watcher = await connectClient(watcherInstance.url, "/rel", { token: "t-watcher" });
      const users = Array.from({ length: 40 }, (_, i) => `t-${i}`);
      const sockets = await Promise.all(
        users.map((u, i) => connectClient(victim.url, i % 2 ? "/rel" : `/rooms/${i % 4}`, { token: u, bye: true, room: "r" })),
      );
      expect(await ask<string[]>(watcher, "users")).toEqual(expect.arrayContaining(users.filter((_, i) => i % 2)));
      const told = sockets.map((s) => disconnected(s, 10_000));
      const started = Date.now();
      const code = await victim.stop();
      const exitMs = Date.now() - started;
      expect(code).toBe(0);
      const closeMs = Number(/CLOSED (\d+)/.exec(victim.output.join(""))?.[1]);
      console.log(`[figure] SIGTERM with ${users.length} sockets: close() ${closeMs} ms, exit ${exitMs} ms after the signal`);
      expect(exitMs).toBeLessThan(5000);
      // Closed at the transport level (a drain), so a stock client reconnects by itself (to another instance).
      expect(await Promise.all(told)).toEqual(users.map(() => "transport close"));
      // every onDisconnect ran (each incremented bye:<user> in the shared store)
      const byes = await redis.mget(...users.map((u) => `${prefix}state:bye:${u}`));
      expect(byes).toEqual(users.map(() => "1"));
      // presence and connection counts of the stopped instance are gone at once, not by expiry
      const online = await ask<string[]>(watcher, "users");
      expect(online.filter((u) => u.startsWith("t-") && u !== "t-watcher")).toEqual([]);
      expect(await redis.zcard(`${prefix}conn:instances`)).toBe(1);
      expect(victim.output.join("")).not.toContain(FATAL_MARKER);
    } finally {
      redis.disconnect();
      await Promise.all([watcherInstance.kill(), victim.kill()]);
    }
  });

  it("exits within handlerTimeoutMs even when an onDisconnect never settles", async () => {
    const victim = await startInstance(clusterConfig(prefix, { handlerTimeoutMs: 1000 }));
    try {
      await connectClient(victim.url, "/rel", { token: "hangs", hang: true });
      await connectClient(victim.url, "/rel", { token: "fine", bye: true });
      const started = Date.now();
      expect(await victim.stop()).toBe(0);
      const exitMs = Date.now() - started;
      console.log(`[figure] SIGTERM with a never-settling onDisconnect (handlerTimeoutMs 1000): exit after ${exitMs} ms`);
      expect(exitMs).toBeGreaterThanOrEqual(900);
      expect(exitMs).toBeLessThan(5000);
      expect(victim.output.join("")).toMatch(/1 connection hook\(s\) still running after handlerTimeoutMs/);
    } finally {
      await victim.kill();
    }
  });
});
