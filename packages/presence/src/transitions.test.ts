/**
 * Live presence with the Redis backend: the first socket of a user in a room and their last
 * one, decided in the write scripts, once cluster-wide, including when two instances race,
 * and around an instance that stopped without `close()` (past its deadline, not dropped yet).
 */
import type { PresenceExpiry } from "@loly-rt/core";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, redisUrl, testPrefix, testRedis } from "../../../tests/setup/redis.js";
import { createRedisPresence, type RedisPresence } from "./redis-presence.js";
import { eventually } from "./testing/redis-server.js";

const prefix = testPrefix("transitions");
let redis: Redis;
const opened: RedisPresence[] = [];
const clients: Redis[] = [];
let n = 0;

beforeAll(() => {
  redis = testRedis();
});

afterAll(async () => {
  await Promise.all(opened.map((p) => p.close()));
  for (const c of clients) c.disconnect();
  await deleteKeys(prefix, redis);
  redis.disconnect();
});

function open(p: string, ttlMs: number, client: Redis = redis): RedisPresence {
  const presence = createRedisPresence({ redis: client, prefix: p, ttlMs, onError: () => undefined });
  opened.push(presence);
  return presence;
}

/**
 * An instance that stops answering, as a killed one does: its own client, disconnected once
 * its users are written. Nothing of it is closed: its entries stay in Redis until its deadline
 * passes and another instance drops them.
 */
async function stoppedInstance(p: string, ttlMs: number, users: Array<[userId: string, room: string]>): Promise<RedisPresence> {
  const client = new Redis(redisUrl(), { maxRetriesPerRequest: 0 });
  clients.push(client);
  const c = open(p, ttlMs, client);
  let i = 0;
  for (const [userId, room] of users) {
    const socketId = `c-${i++}`;
    await c.add({ namespace: "/chat", socketId, userId });
    await c.join("/chat", socketId, room);
  }
  client.disconnect();
  return c;
}

const sorted = (list: string[]): string[] => [...list].sort();

describe("live presence transitions (Redis)", () => {
  it("a user's sockets on two instances: the first join and the last leave report, whichever instance", async () => {
    const p = `${prefix}x${n++}:`;
    const a = open(p, 5000);
    const b = open(p, 5000);
    await a.add({ namespace: "/chat", socketId: "a1", userId: "u" });
    await b.add({ namespace: "/chat", socketId: "b1", userId: "u" });
    await b.add({ namespace: "/chat", socketId: "b2", userId: "u" });
    expect(await a.join("/chat", "a1", "lobby")).toBe(true);
    expect(await b.join("/chat", "b1", "lobby")).toBe(false);
    expect(await b.join("/chat", "b2", "lobby")).toBe(false);
    expect(await a.leave("/chat", "a1", "lobby")).toBe(false);
    expect(await b.leave("/chat", "b1", "lobby")).toBe(false);
    expect(await b.remove("/chat", "b2")).toEqual(["lobby"]);
    expect(await a.users("/chat", "lobby")).toEqual([]);
    // And back: the next first socket reports again.
    expect(await b.join("/chat", "b1", "lobby")).toBe(true);
    expect(await a.join("/chat", "a1", "lobby")).toBe(false);
    expect(await b.remove("/chat", "b1")).toEqual([]);
    expect(await a.remove("/chat", "a1")).toEqual(["lobby"]);
  });

  it("concurrent joins from two instances: exactly one reports the user's arrival; concurrent leaves: exactly one the departure", async () => {
    const p = `${prefix}x${n++}:`;
    const a = open(p, 5000);
    const b = open(p, 5000);
    const rounds = 200;
    const users = Array.from({ length: rounds }, (_, r) => `u${r}`);
    await Promise.all(
      users.flatMap((u) => [
        a.add({ namespace: "/chat", socketId: `a-${u}`, userId: u }),
        b.add({ namespace: "/chat", socketId: `b-${u}`, userId: u }),
      ]),
    );
    // Every pair of joins is in flight at once, from two instances over two connections.
    const bClient = new Redis(redisUrl());
    clients.push(bClient);
    const b2 = open(p, 5000, bClient);
    await Promise.all(users.map((u) => b2.add({ namespace: "/chat", socketId: `c-${u}`, userId: u })));
    const joins = await Promise.all(
      users.map((u) => Promise.all([a.join("/chat", `a-${u}`, "lobby"), b2.join("/chat", `c-${u}`, "lobby")])),
    );
    for (const [i, pair] of joins.entries()) expect(pair.filter(Boolean).length, users[i]).toBe(1);
    expect((await b.users("/chat", "lobby")).length).toBe(rounds);

    const leaves = await Promise.all(
      users.map((u) => Promise.all([a.leave("/chat", `a-${u}`, "lobby"), b2.remove("/chat", `c-${u}`).then((r) => r.includes("lobby"))])),
    );
    for (const [i, pair] of leaves.entries()) expect(pair.filter(Boolean).length, users[i]).toBe(1);
    expect(await b.users("/chat", "lobby")).toEqual([]);
  });

  it("a socket in many rooms reports, per room, only the rooms its user leaves with it", async () => {
    const p = `${prefix}x${n++}:`;
    const a = open(p, 5000);
    const b = open(p, 5000);
    await a.add({ namespace: "/chat", socketId: "a1", userId: "u" });
    await b.add({ namespace: "/chat", socketId: "b1", userId: "u" });
    const rooms = Array.from({ length: 150 }, (_, i) => `room-${i}`);
    for (const room of rooms) expect(await a.join("/chat", "a1", room)).toBe(true);
    // b keeps the user in every third room.
    const kept = rooms.filter((_, i) => i % 3 === 0);
    for (const room of kept) expect(await b.join("/chat", "b1", room)).toBe(false);
    // More than one script call's worth of writes: each part's answer lands on its room.
    expect(sorted(await a.remove("/chat", "a1"))).toEqual(sorted(rooms.filter((_, i) => i % 3 !== 0)));
    expect(sorted(await b.remove("/chat", "b1"))).toEqual(sorted(kept));
  });

  it("an instance past its deadline (not dropped yet) holds nobody: a join elsewhere is an arrival; the survivor that drops it reports only who is gone", async () => {
    const p = `${prefix}x${n++}:`;
    // `a` renews rarely and listens to nothing: it drops nothing in the window below.
    const a = open(p, 60_000);
    await a.add({ namespace: "/chat", socketId: "a1", userId: "back" });
    await a.add({ namespace: "/chat", socketId: "a2", userId: "both" });
    expect(await a.join("/chat", "a2", "lobby")).toBe(true);
    await stoppedInstance(p, 1500, [
      ["back", "lobby"],
      ["both", "lobby"],
      ["gone", "lobby"],
      ["elsewhere", "lobby"],
    ]);
    // Readers stop seeing the stopped instance at its deadline.
    await eventually(async () => sorted(await a.users("/chat", "lobby")).join() === "both", 3000);

    // "back" was only on the stopped instance: for readers they left, so their join is an arrival.
    expect(await a.join("/chat", "a1", "lobby")).toBe(true);
    // "elsewhere" was on it too, and on `a` now briefly: its leave here is the user's departure
    // (and takes them off the stopped instance, whose dropping must not report them again).
    await a.add({ namespace: "/chat", socketId: "a3", userId: "elsewhere" });
    expect(await a.join("/chat", "a3", "lobby")).toBe(true);
    expect(await a.leave("/chat", "a3", "lobby")).toBe(true);

    // A new instance drops the stopped one at once (its first re-assert does): only "gone",
    // whom no live instance has in the room, left with it ("back" and "both" are on `a`).
    const expired: PresenceExpiry[] = [];
    const d = open(p, 60_000);
    d.onExpired?.((list) => expired.push(...list));
    await eventually(() => expired.length > 0, 3000);
    // Nothing else comes: wait for a few heartbeats of another listener too.
    const e = open(p, 300);
    const more: PresenceExpiry[] = [];
    e.onExpired?.((list) => more.push(...list));
    await new Promise((r) => setTimeout(r, 700));
    expect(expired).toEqual([{ namespace: "/chat", room: "lobby", userId: "gone" }]);
    expect(more).toEqual([]);
    expect(sorted(await d.users("/chat", "lobby"))).toEqual(["back", "both"]);
    // It is forgotten: a, d and e remain.
    expect(await redis.zcard(`${p}presence:instances`)).toBe(3);
  });
});
