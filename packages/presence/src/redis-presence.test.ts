import type { ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LolyError } from "@loly-rt/core";
import { deleteKeys, redisUrl, testPrefix, testRedis } from "../../../tests/setup/redis.js";
import { createRedisPresence } from "./redis-presence.js";
import { describePresenceConformance } from "@loly-rt/core/testing";
import { openBackends, throughKeyPrefixedClient } from "./testing/backends.js";
import { countingClient, eventually, freePort, keysWithTtl, startRedisServer, stopRedisServer } from "./testing/redis-server.js";

const sorted = (list: string[]): string[] => [...list].sort();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const prefix = testPrefix("presence");
let redis: Redis;
let n = 0;

beforeAll(() => {
  redis = testRedis();
});

afterAll(async () => {
  await deleteKeys(prefix, redis);
  redis.disconnect();
});

describePresenceConformance("redis", {
  make: () => createRedisPresence({ redis, prefix: `${prefix}c${n++}:`, ttlMs: 5000 }),
  destroy: (backend) => backend.close(),
});

// The same contract through a client of yours created with `stringNumbers: true` (ioredis then
// answers every integer as a string).
let stringy: Redis;
beforeAll(() => {
  stringy = new Redis(redisUrl(), { stringNumbers: true });
});
afterAll(() => {
  stringy.disconnect();
});
describePresenceConformance("redis over a stringNumbers client", {
  make: () => createRedisPresence({ redis: stringy, prefix: `${prefix}s${n++}:`, ttlMs: 5000 }),
  destroy: (backend) => backend.close(),
});

describe("createRedisPresence", () => {
  it("keeps its keys under the client's ioredis keyPrefix, like the commands ioredis prefixes itself", async () => {
    const make = (client: Redis, p: string) => createRedisPresence({ redis: client, prefix: p, ttlMs: 1500 });
    await throughKeyPrefixedClient(redis, `${prefix}client-prefix:`, "presence:", make, async (a, b) => {
      await a.add({ namespace: "/chat", socketId: "s1", userId: "u1" });
      await a.join("/chat", "s1", "lobby");
      expect(await b.users("/chat")).toEqual(["u1"]);
      expect(await b.users("/chat", "lobby")).toEqual(["u1"]);
      expect(await b.isOnline("/chat", "u1")).toBe(true);
    });
  });

  const { open, pair, closeAll } = openBackends((options) => createRedisPresence({ redis, ...options }));
  afterAll(closeAll);

  it("rejects bad options with INVALID_CONFIG", () => {
    expect(() => createRedisPresence({ redis, ttlMs: 0 })).toThrow(LolyError);
    expect(() => createRedisPresence({ redis, ttlMs: Number.NaN })).toThrow(/ttlMs/);
    expect(() => createRedisPresence({ redis, instanceId: "" })).toThrow(/instanceId/);
  });

  it("two instances with one prefix give the same answers", async () => {
    const [a, b] = pair(`${prefix}two:`);
    expect(a.instanceId).not.toBe(b.instanceId);
    await a.add({ namespace: "/chat", socketId: "a1", userId: "alice" });
    await a.add({ namespace: "/chat", socketId: "a2", userId: "bob" });
    await b.add({ namespace: "/chat", socketId: "b1", userId: "bob" });
    await b.add({ namespace: "/chat", socketId: "b2", userId: "carol" });
    await a.join("/chat", "a2", "lobby");
    await b.join("/chat", "b1", "lobby");
    await b.join("/chat", "b2", "lobby");

    for (const x of [a, b]) {
      expect(sorted(await x.users("/chat"))).toEqual(["alice", "bob", "carol"]);
      expect(sorted(await x.users("/chat", "lobby"))).toEqual(["bob", "carol"]);
      expect(sorted(await x.socketsOf("/chat", "bob"))).toEqual(["a2", "b1"]);
      expect(await x.isOnline("/chat", "alice")).toBe(true);
      expect(await x.isOnline("/chat", "dave")).toBe(false);
    }

    await a.remove("/chat", "a2");
    expect(await b.socketsOf("/chat", "bob")).toEqual(["b1"]);
    expect(sorted(await b.users("/chat", "lobby"))).toEqual(["bob", "carol"]);
    await b.leave("/chat", "b1", "lobby");
    expect(await a.users("/chat", "lobby")).toEqual(["carol"]);
  });

  it("does not see another prefix (another cluster)", async () => {
    const a = open(`${prefix}cl1:`);
    const b = open(`${prefix}cl2:`);
    await a.add({ namespace: "/chat", socketId: "s1", userId: "u1" });
    expect(await b.users("/chat")).toEqual([]);
    expect(await a.users("/chat")).toEqual(["u1"]);
  });

  it("uses the documented key layout, and every key has an expiry", async () => {
    const p = `${prefix}layout:`;
    const a = open(p, 3000, "inst-a");
    await a.add({ namespace: "/chat", socketId: "s1", userId: "u1" });
    await a.add({ namespace: "/chat", socketId: "s2", userId: "u1" });
    await a.join("/chat", "s1", "lobby");
    const keys = await keysWithTtl(redis, `${p}*`);
    expect(sorted([...keys.keys()])).toEqual(
      sorted([
        `${p}presence:instances`,
        `${p}presence:i:inst-a`,
        `${p}presence:i:inst-a:keys`,
        `${p}presence:i:inst-a:u:/chat`,
        `${p}presence:i:inst-a:r:5:/chat:lobby`,
      ]),
    );
    // The marker lives ttlMs; data keys, their list and the registry 2 * ttlMs (a survivor
    // reads who was on a stopped instance when it drops it, right after its deadline).
    for (const [key, ttl] of keys) {
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(key === `${p}presence:i:inst-a` ? 3000 : 6000);
    }
    expect(JSON.parse((await redis.hget(`${p}presence:i:inst-a:u:/chat`, "u1")) ?? "[]")).toEqual(["s1", "s2"]);
    expect(await redis.hget(`${p}presence:i:inst-a:r:5:/chat:lobby`, "u1")).toBe("1");
    const marker = JSON.parse((await redis.get(`${p}presence:i:inst-a`)) ?? "{}") as { pid?: number };
    expect(marker.pid).toBe(process.pid);
  });

  it("every key under the prefix keeps an expiry through heartbeats, and entries outlive ttlMs while alive", async () => {
    const p = `${prefix}ttl:`;
    const [a, b] = pair(p, 300);
    await a.add({ namespace: "/chat", socketId: "s1", userId: "u1" });
    await b.add({ namespace: "/chat", socketId: "s2", userId: "u2" });
    await a.join("/chat", "s1", "room");
    await b.remove("/chat", "s2");
    await sleep(900);
    expect(await b.users("/chat")).toEqual(["u1"]);
    expect(await b.users("/chat", "room")).toEqual(["u1"]);
    const keys = await keysWithTtl(redis, `${p}*`);
    expect(keys.size).toBeGreaterThan(0);
    for (const [key, ttl] of keys) expect(ttl, key).toBeGreaterThan(0);
  });

  it("spends one Redis command per write and per read", async () => {
    const { redis: counted, sent } = countingClient(redisUrl());
    const a = createRedisPresence({ redis: counted, prefix: `${prefix}rtt:`, ttlMs: 60_000 });
    try {
      // Warm up: scripts loaded, first heartbeat done.
      await a.add({ namespace: "/w", socketId: "w", userId: "w" });
      await a.users("/w");
      await a.socketsOf("/w", "w");
      await a.isOnline("/w", "w");
      await sleep(50);
      sent.length = 0;
      const counts: Record<string, number> = {};
      const measure = async (name: string, op: () => Promise<unknown>): Promise<void> => {
        const before = sent.length;
        await op();
        counts[name] = sent.length - before;
      };
      await measure("add", () => a.add({ namespace: "/chat", socketId: "s1", userId: "u1" }));
      await measure("join", () => a.join("/chat", "s1", "lobby"));
      await measure("users", () => a.users("/chat"));
      await measure("usersRoom", () => a.users("/chat", "lobby"));
      await measure("socketsOf", () => a.socketsOf("/chat", "u1"));
      await measure("isOnline", () => a.isOnline("/chat", "u1"));
      await measure("leave", () => a.leave("/chat", "s1", "lobby"));
      await measure("remove", () => a.remove("/chat", "s1"));
      await measure("removeUnknown", () => a.remove("/chat", "nope"));
      expect(counts).toEqual({
        add: 1,
        join: 1,
        users: 1,
        usersRoom: 1,
        socketsOf: 1,
        isOnline: 1,
        leave: 1,
        remove: 1,
        removeUnknown: 0,
      });
      expect(new Set(sent)).toEqual(new Set(["evalsha"]));
    } finally {
      await a.close();
      counted.disconnect();
    }
  });

  it("close() removes this instance's entries at once", async () => {
    const p = `${prefix}close:`;
    const [a, b] = pair(p);
    await a.add({ namespace: "/chat", socketId: "s1", userId: "u1" });
    await a.join("/chat", "s1", "lobby");
    await b.add({ namespace: "/chat", socketId: "s2", userId: "u2" });
    expect(sorted(await b.users("/chat"))).toEqual(["u1", "u2"]);
    await a.close();
    expect(await b.users("/chat")).toEqual(["u2"]);
    expect(await b.users("/chat", "lobby")).toEqual([]);
    expect(await b.isOnline("/chat", "u1")).toBe(false);
    expect((await keysWithTtl(redis, `${p}presence:i:${a.instanceId}*`)).size).toBe(0);
    expect(await redis.zscore(`${p}presence:instances`, a.instanceId)).toBeNull();
    // Writes after close change nothing.
    await a.add({ namespace: "/chat", socketId: "s3", userId: "u3" });
    expect(await b.users("/chat")).toEqual(["u2"]);
  });

  it("re-asserts its entries when its keys vanish behind its back", async () => {
    const p = `${prefix}reassert:`;
    const [a, b] = pair(p, 600);
    await a.add({ namespace: "/chat", socketId: "s1", userId: "u1" });
    await a.join("/chat", "s1", "lobby");
    const own = [...(await keysWithTtl(redis, `${p}presence:i:${a.instanceId}*`)).keys()];
    expect(own.length).toBeGreaterThan(0);
    await redis.del(...own);
    expect(await b.users("/chat")).toEqual([]);
    const took = await eventually(async () => (await b.users("/chat", "lobby")).join() === "u1", 3000);
    expect(await b.socketsOf("/chat", "u1")).toEqual(["s1"]);
    console.log(`[presence] re-asserted after key loss in ${Math.round(took)} ms (heartbeat every 200 ms)`);
  });
});

describe("createRedisPresence across a Redis restart", () => {
  let server: ChildProcess | undefined;
  let client: Redis | undefined;
  let reader: Redis | undefined;

  afterAll(async () => {
    client?.disconnect();
    reader?.disconnect();
    if (server) await stopRedisServer(server);
  });

  it("rejects writes during the outage, reports the heartbeat, and re-asserts the mirror once Redis is back", async () => {
    const port = await freePort();
    server = await startRedisServer(port);
    client = new Redis({ port, host: "127.0.0.1", enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    const clientErrors: unknown[] = [];
    client.on("error", (err) => clientErrors.push(err));
    const errors: string[] = [];
    const p = `${prefix}restart:`;
    const a = createRedisPresence({ redis: client, prefix: p, ttlMs: 600, onError: (_err, stage) => errors.push(stage) });
    try {
      await eventually(() => client?.status === "ready", 3000);
      await a.add({ namespace: "/chat", socketId: "s1", userId: "u1" });
      await a.add({ namespace: "/chat", socketId: "s2", userId: "u2" });
      await a.join("/chat", "s2", "lobby");
      expect(sorted(await a.users("/chat"))).toEqual(["u1", "u2"]);

      await stopRedisServer(server);
      await expect(a.remove("/chat", "s2")).rejects.toThrow();
      await expect(a.add({ namespace: "/chat", socketId: "s3", userId: "u3" })).rejects.toThrow();
      await expect(a.users("/chat")).rejects.toThrow();
      await eventually(() => errors.includes("heartbeat"), 3000);

      // A fresh Redis on the same port: everything was lost.
      server = await startRedisServer(port);
      const restarted = performance.now();
      reader = new Redis({ port, host: "127.0.0.1" });
      const b = createRedisPresence({ redis: reader, prefix: p, ttlMs: 600 });
      await eventually(async () => sorted(await b.users("/chat")).join() === "u1,u3", 5000);
      console.log(`[presence] re-asserted ${Math.round(performance.now() - restarted)} ms after the restarted Redis answered (ttlMs 600)`);
      expect(await b.users("/chat", "lobby")).toEqual([]);
      expect(await b.socketsOf("/chat", "u3")).toEqual(["s3"]);
      for (const [key, ttl] of await keysWithTtl(reader, `${p}*`)) expect(ttl, key).toBeGreaterThan(0);
      await b.close();
    } finally {
      await a.close();
    }
    // Connection errors went to the client's listener, not to an unhandled 'error' event.
    expect(clientErrors.every((e) => e instanceof Error)).toBe(true);
  });
});
