import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, redisUrl, testPrefix, testRedis } from "../../../tests/setup/redis.js";
import { createRedisConnectionCounter } from "./redis-counter.js";
import { openBackends, throughKeyPrefixedClient } from "./testing/backends.js";
import { countingClient, eventually, keysWithTtl } from "./testing/redis-server.js";

const prefix = testPrefix("conn");
let redis: Redis;
const { open, pair, closeAll } = openBackends((options) => createRedisConnectionCounter({ redis, ...options }));

beforeAll(() => {
  redis = testRedis();
});

afterAll(async () => {
  await closeAll();
  await deleteKeys(prefix, redis);
  redis.disconnect();
});

describe("createRedisConnectionCounter", () => {
  it("holds the per-IP limit across two instances and frees on release", async () => {
    const [a, b] = pair(`${prefix}limit:`);
    expect(await a.acquire("1.1.1.1", 3)).toBe(true);
    expect(await b.acquire("1.1.1.1", 3)).toBe(true);
    expect(await a.acquire("1.1.1.1", 3)).toBe(true);
    expect(await b.acquire("1.1.1.1", 3)).toBe(false);
    expect(await a.acquire("1.1.1.1", 3)).toBe(false);
    expect(await b.acquire("2.2.2.2", 3)).toBe(true);
    await a.release("1.1.1.1");
    expect(await b.acquire("1.1.1.1", 3)).toBe(true);
    expect(await a.acquire("1.1.1.1", 3)).toBe(false);
  });

  it("reads its replies right through a client that answers integers as strings (stringNumbers)", async () => {
    const stringy = new Redis(redisUrl(), { stringNumbers: true });
    const counter = createRedisConnectionCounter({ redis: stringy, prefix: `${prefix}strings:`, ttlMs: 1500 });
    try {
      expect(await counter.acquire("4.4.4.4", 2)).toBe(true);
      expect(await counter.acquire("4.4.4.4", 2)).toBe(true);
      expect(await counter.acquire("4.4.4.4", 2)).toBe(false);
      await counter.release("4.4.4.4");
      expect(await counter.acquire("4.4.4.4", 2)).toBe(true);
    } finally {
      await counter.close();
      stringy.disconnect();
    }
  });

  it("keeps its keys under the client's ioredis keyPrefix, like the commands ioredis prefixes itself", async () => {
    const make = (client: Redis, p: string) => createRedisConnectionCounter({ redis: client, prefix: p, ttlMs: 1500 });
    await throughKeyPrefixedClient(redis, `${prefix}client-prefix:`, "conn:", make, async (a, b) => {
      expect(await a.acquire("5.5.5.5", 1)).toBe(true);
      expect(await b.acquire("5.5.5.5", 1)).toBe(false);
    });
  });

  it("never admits more than the limit under concurrent acquires from two instances", async () => {
    const [a, b] = pair(`${prefix}race:`);
    const attempts = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).acquire("3.3.3.3", 10));
    const results = await Promise.all(attempts);
    expect(results.filter(Boolean).length).toBe(10);
  });

  it("acquire and release are one Redis command each", async () => {
    const { redis: counted, sent } = countingClient(redisUrl());
    const a = createRedisConnectionCounter({ redis: counted, prefix: `${prefix}rtt:`, ttlMs: 60_000 });
    try {
      await a.acquire("8.8.8.8", 5);
      await a.release("8.8.8.8");
      await new Promise((r) => setTimeout(r, 50));
      sent.length = 0;
      expect(await a.acquire("8.8.8.8", 5)).toBe(true);
      expect(sent).toEqual(["evalsha"]);
      await a.release("8.8.8.8");
      expect(sent).toEqual(["evalsha", "evalsha"]);
    } finally {
      await a.close();
      counted.disconnect();
    }
  });

  it("ignores releases it never counted", async () => {
    const p = `${prefix}stray:`;
    const a = open(p);
    await a.release("4.4.4.4");
    expect(await a.acquire("4.4.4.4", 1)).toBe(true);
    expect(await a.acquire("4.4.4.4", 1)).toBe(false);
  });

  it("keeps every key expiring, in the documented layout", async () => {
    const p = `${prefix}layout:`;
    const a = open(p, 2000, "inst-a");
    await a.acquire("5.5.5.5", 5);
    await a.acquire("5.5.5.5", 5);
    const keys = await keysWithTtl(redis, `${p}*`);
    expect([...keys.keys()].sort()).toEqual(
      [`${p}conn:instances`, `${p}conn:i:inst-a`, `${p}conn:i:inst-a:keys`, `${p}conn:i:inst-a:c`].sort(),
    );
    for (const [key, ttl] of keys) expect(ttl, key).toBeGreaterThan(0);
    expect(await redis.hget(`${p}conn:i:inst-a:c`, "5.5.5.5")).toBe("2");
    await a.release("5.5.5.5");
    await a.release("5.5.5.5");
    expect(await redis.exists(`${p}conn:i:inst-a:c`)).toBe(0);
  });

  it("close() stops counting this instance's connections at once", async () => {
    const p = `${prefix}close:`;
    const [a, b] = pair(p);
    expect(await a.acquire("6.6.6.6", 2)).toBe(true);
    expect(await a.acquire("6.6.6.6", 2)).toBe(true);
    expect(await b.acquire("6.6.6.6", 2)).toBe(false);
    await a.close();
    await a.close();
    expect(await a.acquire("6.6.6.6", 2)).toBe(false);
    expect(await b.acquire("6.6.6.6", 2)).toBe(true);
    expect((await keysWithTtl(redis, `${p}conn:i:${a.instanceId}*`)).size).toBe(0);
  });

  it("re-asserts its counts when they vanish behind its back", async () => {
    const p = `${prefix}reassert:`;
    const [a, b] = pair(p, 600);
    expect(await a.acquire("7.7.7.7", 2)).toBe(true);
    expect(await a.acquire("7.7.7.7", 2)).toBe(true);
    const own = [...(await keysWithTtl(redis, `${p}conn:i:${a.instanceId}*`)).keys()];
    await redis.del(...own);
    expect(await b.acquire("7.7.7.7", 2)).toBe(true);
    await b.release("7.7.7.7");
    await eventually(async () => (await redis.hget(`${p}conn:i:${a.instanceId}:c`, "7.7.7.7")) === "2", 3000);
    expect(await b.acquire("7.7.7.7", 2)).toBe(false);
  });
});
