/**
 * Crash safety with real processes: an instance in a child process registers users and
 * connections, is killed with SIGKILL, and must drop out of the other instance's answers
 * within ttlMs.
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { dirname, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { PresenceExpiry } from "@loly-rt/core";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnTsFixture } from "../../../tests/setup/child.js";
import { deleteKeys, redisUrl, testPrefix, testRedis } from "../../../tests/setup/redis.js";
import { createRedisConnectionCounter } from "./redis-counter.js";
import { createRedisPresence } from "./redis-presence.js";
import { eventually, keysWithTtl } from "./testing/redis-server.js";

const here = dirname(fileURLToPath(import.meta.url));
const TTL_MS = 1500;
const MARGIN_MS = 500;
const prefix = testPrefix("crash");
const children = new Set<ChildProcess>();
let redis: Redis;

interface Spawned {
  child: ChildProcess;
  ids: { presence: string; counter: string };
}

async function spawnInstance(env: Record<string, string>): Promise<Spawned> {
  const child = spawnTsFixture(resolve(here, "fixtures/instance.ts"), {
    env: {
      REDIS_URL: redisUrl(),
      PREFIX: prefix,
      TTL_MS: String(TTL_MS),
      NAMESPACE: "/chat",
      ROOM: "lobby",
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([
    once(lines, "line"),
    once(child, "exit").then(([code]) => {
      throw new Error(`instance fixture exited early with code ${String(code)}`);
    }),
  ])) as [string];
  lines.close();
  return { child, ids: JSON.parse(line) as Spawned["ids"] };
}

/** SIGKILLs the child and resolves the time (performance.now()) at which it was gone. */
async function sigkill(child: ChildProcess): Promise<number> {
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  expect(signal).toBe("SIGKILL");
  return performance.now();
}

/** Polls until `gone()` and returns the ms elapsed since `since`. */
async function staleness(since: number, gone: () => Promise<boolean>): Promise<number> {
  for (;;) {
    if (await gone()) return performance.now() - since;
    if (performance.now() - since > TTL_MS * 4) throw new Error("entries of the killed instance did not expire");
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(() => {
  redis = testRedis();
});

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await deleteKeys(prefix, redis);
  redis.disconnect();
});

describe("SIGKILL of an instance", () => {
  it("its users leave presence within ttlMs, and every key it left expires", async () => {
    const survivor = createRedisPresence({ redis, prefix, ttlMs: TTL_MS });
    try {
      await survivor.add({ namespace: "/chat", socketId: "local-1", userId: "stays" });
      await survivor.join("/chat", "local-1", "lobby");
      const worst: number[] = [];
      for (let round = 0; round < 3; round++) {
        const victims = [`k${round}-a`, `k${round}-b`];
        const { child, ids } = await spawnInstance({ USERS: victims.join(","), IP: "0.0.0.0", CONNECTIONS: "0" });
        expect((await survivor.users("/chat")).sort()).toEqual([...victims, "stays"].sort());
        expect((await survivor.users("/chat", "lobby")).sort()).toEqual([...victims, "stays"].sort());
        expect(await survivor.isOnline("/chat", victims[0]!)).toBe(true);
        for (const [key, ttl] of await keysWithTtl(redis, `${prefix}*`)) expect(ttl, key).toBeGreaterThan(0);

        // Stagger the kill across the heartbeat period.
        await new Promise((r) => setTimeout(r, (round * TTL_MS) / 7));
        const killedAt = await sigkill(child);
        const ms = await staleness(killedAt, async () => {
          const [all, room, online] = await Promise.all([
            survivor.users("/chat"),
            survivor.users("/chat", "lobby"),
            survivor.isOnline("/chat", victims[1]!),
          ]);
          return all.join() === "stays" && room.join() === "stays" && !online;
        });
        worst.push(ms);
        console.log(`[presence] SIGKILL round ${round + 1}: users gone after ${Math.round(ms)} ms (ttlMs ${TTL_MS})`);
        expect(ms).toBeLessThanOrEqual(TTL_MS + MARGIN_MS);
        expect(await survivor.socketsOf("/chat", victims[0]!)).toEqual([]);

        // Nothing of the dead instance stays behind: the survivor's heartbeat forgets it, or its keys expire.
        const left = async (): Promise<number> =>
          (await keysWithTtl(redis, `${prefix}presence:i:${ids.presence}*`)).size +
          ((await redis.zscore(`${prefix}presence:instances`, ids.presence)) === null ? 0 : 1);
        await eventually(async () => (await left()) === 0, TTL_MS * 2);
        expect(await left()).toBe(0);
      }
      console.log(`[presence] SIGKILL staleness worst of 3: ${Math.round(Math.max(...worst))} ms (ttlMs ${TTL_MS})`);
      expect(await survivor.users("/chat")).toEqual(["stays"]);
    } finally {
      await survivor.close();
    }
  });

  it("its users' departures are reported once cluster-wide, within ttlMs, to the survivor that dropped it", async () => {
    // Two survivors listen; one of them also has "stays" in the room, who is on the victim too.
    const a = createRedisPresence({ redis, prefix, ttlMs: TTL_MS });
    const b = createRedisPresence({ redis, prefix, ttlMs: TTL_MS });
    const reports: Array<PresenceExpiry & { to: string; at: number }> = [];
    a.onExpired?.((list) => reports.push(...list.map((e) => ({ ...e, to: "a", at: performance.now() }))));
    b.onExpired?.((list) => reports.push(...list.map((e) => ({ ...e, to: "b", at: performance.now() }))));
    try {
      await a.add({ namespace: "/chat", socketId: "local-2", userId: "stays" });
      await a.join("/chat", "local-2", "lobby");
      for (let round = 0; round < 3; round++) {
        reports.length = 0;
        const victims = [`e${round}-a`, `e${round}-b`];
        const { child } = await spawnInstance({ USERS: [...victims, "stays"].join(","), IP: "0.0.0.0", CONNECTIONS: "0" });
        expect((await a.users("/chat", "lobby")).sort()).toEqual([...victims, "stays"].sort());
        await new Promise((r) => setTimeout(r, (round * TTL_MS) / 7));
        const killedAt = await sigkill(child);
        await eventually(() => reports.length >= victims.length, TTL_MS * 4);
        const ms = Math.max(...reports.map((r) => r.at - killedAt));
        console.log(`[presence] SIGKILL round ${round + 1}: departures reported after ${Math.round(ms)} ms (ttlMs ${TTL_MS})`);
        expect(ms).toBeLessThanOrEqual(TTL_MS + MARGIN_MS);
        // Nothing more comes (another heartbeat period of both survivors and more).
        await new Promise((r) => setTimeout(r, TTL_MS / 2));
        expect(
          reports.map(({ namespace, room, userId }) => ({ namespace, room, userId })).sort((x, y) => x.userId.localeCompare(y.userId)),
        ).toEqual(victims.map((userId) => ({ namespace: "/chat", room: "lobby", userId })));
        // Each departure reported once, by one of the survivors.
        expect(new Set(reports.map((r) => `${r.userId}`)).size).toBe(reports.length);
        expect(await b.users("/chat", "lobby")).toEqual(["stays"]);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("its connections stop counting toward the per-IP limit within ttlMs", async () => {
    const counter = createRedisConnectionCounter({ redis, prefix, ttlMs: TTL_MS });
    try {
      const { child } = await spawnInstance({ USERS: "c-user", IP: "10.0.0.1", CONNECTIONS: "2" });
      expect(await counter.acquire("10.0.0.1", 3)).toBe(true);
      expect(await counter.acquire("10.0.0.1", 3)).toBe(false);
      const killedAt = await sigkill(child);
      const ms = await staleness(killedAt, () => counter.acquire("10.0.0.1", 3));
      console.log(`[presence] SIGKILL: per-IP connection count freed after ${Math.round(ms)} ms (ttlMs ${TTL_MS})`);
      expect(ms).toBeLessThanOrEqual(TTL_MS + MARGIN_MS);
      expect(await counter.acquire("10.0.0.1", 3)).toBe(true);
      expect(await counter.acquire("10.0.0.1", 3)).toBe(false);
    } finally {
      await counter.close();
    }
  });
});
