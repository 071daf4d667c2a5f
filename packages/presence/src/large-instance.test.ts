/**
 * Instances larger than one script call: the re-assert spread over several calls, hashes
 * staged and renamed whole, what a previous run left swept, writes and reads split into
 * bounded calls. (The bounds themselves are asserted in tests/reliability/src/presence-scale.test.ts.)
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, testPrefix, testRedis } from "../../../tests/setup/redis.js";
import { FIELDS_PER_CALL, FIELDS_PER_READ, HASHES_PER_CALL } from "./lua.js";
import { createRedisConnectionCounter } from "./redis-counter.js";
import { createRedisPresence, type RedisPresence } from "./redis-presence.js";
import { eventually, keysWithTtl } from "./testing/redis-server.js";

const prefix = testPrefix("large");
let redis: Redis;
const closers: Array<() => Promise<void>> = [];
const times = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

beforeAll(() => {
  redis = testRedis();
});

afterAll(async () => {
  for (const close of closers.splice(0)) await close();
  await deleteKeys(prefix, redis);
  redis.disconnect();
});

interface OpenOptions {
  ttlMs?: number;
  instanceId?: string;
  redis?: Redis;
}

function open(p: string, options: OpenOptions = {}): RedisPresence {
  const presence = createRedisPresence({
    redis: options.redis ?? redis,
    prefix: p,
    ttlMs: options.ttlMs ?? 600,
    ...(options.instanceId ? { instanceId: options.instanceId } : {}),
    onError: () => undefined, // one test drops a client on purpose
  });
  closers.push(() => presence.close());
  return presence;
}

/** Every key of an instance, and that each has an expiry and none is a leftover of a re-assert. */
async function expectClean(p: string, id: string): Promise<void> {
  const keys = await keysWithTtl(redis, `${p}presence:i:${id}*`);
  for (const [key, ttl] of keys) {
    expect(ttl, key).toBeGreaterThan(0);
    expect(key.endsWith(":old") || key.includes(":s:"), key).toBe(false);
  }
}

describe("a Redis presence larger than one script call", () => {
  it("re-asserts a hash of more fields than one call carries whole, and a room with it", async () => {
    const p = `${prefix}big-hash:`;
    const a = open(p);
    const n = FIELDS_PER_CALL * 3 + 5;
    await Promise.all(times(n).map((i) => a.add({ namespace: "/chat", socketId: `s${i}`, userId: `u${i}` })));
    await Promise.all(times(n).map((i) => a.join("/chat", `s${i}`, "lobby")));
    await redis.del(`${p}presence:i:${a.instanceId}`, `${p}presence:i:${a.instanceId}:u:/chat`);
    await eventually(async () => (await a.users("/chat")).length === n, 3000);
    expect((await a.users("/chat", "lobby")).length).toBe(n);
    expect(await a.socketsOf("/chat", `u${n - 1}`)).toEqual([`s${n - 1}`]);
    await expectClean(p, a.instanceId);
  });

  it("a new run with the same instance id replaces what the previous run left, however many rooms", async () => {
    const p = `${prefix}same-id:`;
    const client = new Redis(redis.options);
    client.on("error", () => undefined);
    const first = open(p, { instanceId: "inst", redis: client });
    await first.add({ namespace: "/chat", socketId: "old", userId: "gone" });
    const rooms = HASHES_PER_CALL * 4;
    await Promise.all(times(rooms).map((r) => first.join("/chat", "old", `r${r}`)));
    client.disconnect(); // the previous run stops without close()

    const second = open(p, { instanceId: "inst" });
    await second.add({ namespace: "/chat", socketId: "new", userId: "here" });
    await second.join("/chat", "new", "r1");
    await eventually(async () => (await redis.exists(`${p}presence:i:inst:old`)) === 0, 3000);
    expect(await second.users("/chat")).toEqual(["here"]);
    expect(await second.users("/chat", "r1")).toEqual(["here"]);
    expect(await second.users("/chat", `r${rooms - 1}`)).toEqual([]);
    expect(await redis.smembers(`${p}presence:i:inst:keys`)).toHaveLength(2);
    await expectClean(p, "inst");
  });

  it("a socket in many rooms leaves all of them in one go", async () => {
    const p = `${prefix}many-rooms:`;
    const a = open(p, { ttlMs: 60_000 });
    const b = open(p, { ttlMs: 60_000 });
    const rooms = HASHES_PER_CALL * 3 + 1;
    await a.add({ namespace: "/chat", socketId: "s1", userId: "busy" });
    await b.add({ namespace: "/chat", socketId: "s2", userId: "other" });
    await Promise.all(times(rooms).map((r) => a.join("/chat", "s1", `r${r}`)));
    await b.join("/chat", "s2", "r0");
    await a.remove("/chat", "s1");
    expect(await b.users("/chat")).toEqual(["other"]);
    expect(await b.users("/chat", "r0")).toEqual(["other"]);
    expect(await b.users("/chat", `r${rooms - 1}`)).toEqual([]);
    expect(await redis.smembers(`${p}presence:i:${a.instanceId}:keys`)).toEqual([]);
  });

  it("users() reads an answer larger than one read a page per call, each user once", async () => {
    const p = `${prefix}pages:`;
    const a = open(p, { ttlMs: 60_000 });
    const b = open(p, { ttlMs: 60_000 });
    const n = FIELDS_PER_READ + 300;
    await Promise.all(times(n).map((i) => a.add({ namespace: "/chat", socketId: `a${i}`, userId: `u${i}` })));
    await Promise.all(times(n).map((i) => b.add({ namespace: "/chat", socketId: `b${i}`, userId: `u${i + 500}` })));
    const users = await a.users("/chat");
    expect(users.length).toBe(n + 500);
    expect(new Set(users).size).toBe(n + 500);
    await b.close();
    expect((await a.users("/chat")).length).toBe(n);
  });
});

describe("a Redis connection counter larger than one script call", () => {
  it("re-asserts more per-IP counts than one call carries, exactly", async () => {
    const p = `${prefix}counter:`;
    const counter = createRedisConnectionCounter({ redis, prefix: p, ttlMs: 600 });
    closers.push(() => counter.close());
    const ips = FIELDS_PER_CALL * 2 + 3;
    await Promise.all(times(ips).map((i) => counter.acquire(`10.0.${i >> 8}.${i & 255}`, 5)));
    await counter.acquire("10.0.0.0", 5);
    await redis.del(`${p}conn:i:${counter.instanceId}`, `${p}conn:i:${counter.instanceId}:c`);
    await eventually(async () => (await redis.hlen(`${p}conn:i:${counter.instanceId}:c`)) === ips, 3000);
    expect(await redis.hget(`${p}conn:i:${counter.instanceId}:c`, "10.0.0.0")).toBe("2");
    expect(await redis.exists(`${p}conn:i:${counter.instanceId}:s:c`)).toBe(0);
  });
});
