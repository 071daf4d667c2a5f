/**
 * Fan-out by room interest on a real 3-master Redis Cluster (SPEC 12): three Loly instances in
 * their own processes with `recovery: false`, which `scale.adapter.pubsub: "auto"` turns into
 * sharded pub/sub. Each instance receives the broadcasts of the rooms it hosts and not the
 * others' (read from its `loly_adapter_messages_received_total`), room channels spread over the
 * shards, and room broadcasts and `toUser` still cross instances.
 */
import { Redis } from "ioredis";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisCluster, type OwnRedisCluster } from "../../setup/redis-cluster.js";
import { request } from "../../../packages/server/src/test-helpers.js";
import { eventually } from "./support/clients.js";
import { startInstance, type Proc } from "./support/procs.js";

const PREFIX = "rel-shard:";
let cluster: OwnRedisCluster;
let procs: Proc[] = [];
const clients: Socket[] = [];

const config = () => ({
  logging: { level: "warn" as const, pretty: false },
  scale: {
    mode: "cluster" as const,
    adapter: { type: "redis" as const, cluster: cluster.seeds },
    stateStore: { type: "redis" as const, prefix: PREFIX },
  },
  recovery: false as const,
  presence: { ttlMs: 1500 },
  limits: { connectionsPerIp: 100, eventsPerSecond: 1000, burst: 1000 },
  shutdown: { graceMs: 1000, drainMs: 200 },
});

function connect(url: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const c = io(`${url}/rel`, { path: "/wss", transports: ["websocket"], auth: { token }, reconnectionDelay: 300 });
    clients.push(c);
    c.once("connect", () => resolve(c));
    c.once("connect_error", (err) => reject(err));
  });
}

/** What an instance's adapter subscriber received so far, and in which mode. */
async function received(p: Proc): Promise<{ pubsub: string; count: number }> {
  const text = await p.call<string>("metrics");
  const line = /^loly_adapter_messages_received_total\{pubsub="(\w+)"\} (\d+)$/m.exec(text);
  if (!line) throw new Error("loly_adapter_messages_received_total not in the metrics");
  return { pubsub: line[1] as string, count: Number(line[2]) };
}

describe("sharded fan-out on a 3-master Redis Cluster", () => {
  beforeAll(async () => {
    cluster = await startRedisCluster(3, 0);
    procs = await Promise.all([startInstance(config()), startInstance(config()), startInstance(config())]);
  }, 60_000);
  afterAll(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all(procs.map((p) => p.kill()));
    await cluster?.stop();
  });

  it("each instance receives its own rooms' broadcasts, not the others'", { timeout: 40_000 }, async () => {
    const [a, b, c] = procs as [Proc, Proc, Proc];
    expect((await received(a)).pubsub).toBe("sharded");
    // Alice on A hosts rooms a0..a3, Bob on B hosts b0..b3; Carol on C only sends.
    const alice = await connect(a.url, "alice");
    const bob = await connect(b.url, "bob");
    const carol = await connect(c.url, "carol");
    const rooms = { a: ["a0", "a1", "a2", "a3"], b: ["b0", "b1", "b2", "b3"] };
    for (const room of rooms.a) expect((await request(alice, "join", room)).ok).toBe(true);
    for (const room of rooms.b) expect((await request(bob, "join", room)).ok).toBe(true);

    const got = { alice: 0, bob: 0 };
    alice.on("said", () => got.alice++);
    bob.on("said", () => got.bob++);
    const before = { a: (await received(a)).count, b: (await received(b)).count };
    const PER_ROOM = 25;
    const sends: Promise<unknown>[] = [];
    for (let seq = 0; seq < PER_ROOM; seq++) for (const room of [...rooms.a, ...rooms.b]) sends.push(request(carol, "say", { room, seq }));
    expect((await Promise.all(sends)).every((r) => (r as { ok: boolean }).ok)).toBe(true);
    const own = PER_ROOM * 4;
    await eventually(async () => got.alice === own && got.bob === own, 8000, 50);
    const delta = { a: (await received(a)).count - before.a, b: (await received(b)).count - before.b };
    // Each got its 100 and none of the other's 100 (a few cluster messages may come on top).
    expect(delta.a).toBeGreaterThanOrEqual(own);
    expect(delta.b).toBeGreaterThanOrEqual(own);
    expect(delta.a).toBeLessThanOrEqual(own * 1.1);
    expect(delta.b).toBeLessThanOrEqual(own * 1.1);

    // The rooms' channels live on more than one shard (their slots), each on exactly one.
    const perMaster = await Promise.all(
      cluster.nodes.map(async (node) => {
        const r = new Redis({ port: node.port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 1 });
        try {
          await r.connect();
          return (await r.call("PUBSUB", "SHARDCHANNELS", `${PREFIX}socket.io#/rel#*`)) as string[];
        } finally {
          r.disconnect();
        }
      }),
    );
    const roomChannels = perMaster.map((list) => list.filter((ch) => /#[ab]\d#$/.test(ch)));
    expect(roomChannels.filter((list) => list.length > 0).length).toBeGreaterThan(1);
    expect(roomChannels.flat().sort()).toEqual([...rooms.a, ...rooms.b].map((r) => `${PREFIX}socket.io#/rel#${r}#`).sort());
  });

  it("a broadcast to a room on several instances reaches all of them, and toUser crosses instances", { timeout: 30_000 }, async () => {
    const [a, b, c] = procs as [Proc, Proc, Proc];
    const dave = await connect(a.url, "dave");
    const erin = await connect(b.url, "erin");
    const frank = await connect(c.url, "frank");
    for (const s of [dave, erin]) expect((await request(s, "join", "shared")).ok).toBe(true);
    const heard = Promise.all([dave, erin].map((s) => new Promise((r) => s.once("said", r))));
    await request(frank, "say", { room: "shared", seq: 7 });
    expect(await heard).toEqual([
      { seq: 7, via: c.proc.pid },
      { seq: 7, via: c.proc.pid },
    ]);
    // toUser from C reaches the user's socket on A (its user room's channel, on its shard).
    const told = new Promise((r) => dave.once("told", r));
    expect((await request(frank, "tell", { user: "dave", seq: 8 })).ok).toBe(true);
    expect(await told).toEqual({ seq: 8, via: c.proc.pid });
    // fetchSockets over the cluster sees the three of them (once C has heard both others: an
    // instance forgets one it has not heard for presence.ttlMs, 1.5 s here, which a loaded CI
    // machine has reached).
    type Fetched = { instances: number; results: Array<{ userId: string | null }>; missing: string[] };
    let all: Fetched = { instances: 0, results: [], missing: [] };
    await eventually(async () => {
      all = await c.call<Fetched>("fetchSockets", { filter: {} });
      return all.instances === 3;
    }, 5000);
    expect(all.missing).toEqual([]);
    expect(all.instances).toBe(3);
    expect(all.results.map((s) => s.userId)).toEqual(expect.arrayContaining(["dave", "erin", "frank"]));
    // A cluster call from C reaches the user's socket on B.
    const gone = new Promise<string>((r) => erin.once("disconnect", r));
    await c.call("disconnectUser", { userId: "erin" });
    expect(await gone).toBe("io server disconnect");
  });
});
