/**
 * Connection-state recovery across a cluster (SPEC 10), as users see it: two instances in
 * their own processes against a real Redis, behind a TCP balancer of the test's own, stock
 * socket.io-client with reconnection on. A client whose transport is cut, or whose instance is
 * SIGKILLed, comes back through the other instance with its socket id and rooms, and gets every
 * event sent to it meanwhile once, in the order every other socket got them, before new ones.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { io, type Socket } from "socket.io-client";
import { deleteKeys, redisUrl, testPrefix, testRedis } from "../../setup/redis.js";
import { startBalancer, type Balancer } from "./support/balancer.js";
import { startInstance, type Proc, sleep } from "./support/procs.js";

const prefix = testPrefix("rel-recovery-cluster");
const config = (extra: Record<string, unknown> = {}) => {
  const url = redisUrl();
  return {
    logging: { level: "warn" as const, pretty: false },
    scale: { mode: "cluster" as const, adapter: { type: "redis" as const, url }, stateStore: { type: "redis" as const, url, prefix } },
    limits: { connectionsPerIp: 10_000, eventsPerSecond: 10_000, burst: 10_000 },
    shutdown: { graceMs: 2000, drainMs: 200 },
    ...extra,
  };
};

let balancer: Balancer | undefined;
const procs: Proc[] = [];
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await balancer?.close();
  balancer = undefined;
  await Promise.all(procs.splice(0).map((p) => p.kill()));
});
afterAll(async () => {
  await deleteKeys(prefix);
});

async function instances(extra?: Record<string, unknown>): Promise<[Proc, Proc]> {
  const [a, b] = await Promise.all([startInstance(config(extra)), startInstance(config(extra))]);
  procs.push(a, b);
  balancer = await startBalancer([a.port, b.port]);
  return [a, b];
}

/** A stock client through the balancer, sent to `to` (the balancer's only backend while it connects). */
async function client(to: Proc, token: string, opts: { delayMs?: number; auth?: Record<string, unknown> } = {}): Promise<Socket> {
  balancer?.setBackends([to.port]);
  const c = io(`${balancer?.url}/rel`, {
    path: "/wss",
    transports: ["websocket"],
    auth: { token, ...opts.auth },
    reconnectionDelay: opts.delayMs ?? 300,
    reconnectionDelayMax: opts.delayMs ?? 300,
    randomizationFactor: 0,
  });
  clients.push(c);
  await connected(c);
  return c;
}
const connected = (c: Socket): Promise<void> => new Promise((resolve) => (c.connected ? resolve() : c.once("connect", () => resolve())));
const disconnected = (c: Socket): Promise<void> => new Promise((resolve) => c.once("disconnect", () => resolve()));
const ask = (c: Socket, event: string, data: unknown): Promise<{ ok: boolean; data?: unknown }> => c.timeout(5000).emitWithAck(event, data);

/** Records the `said` sequence numbers a client gets, in order. */
function heard(c: Socket): number[] {
  const seqs: number[] = [];
  c.on("said", (m: { seq: number }) => seqs.push(m.seq));
  return seqs;
}

async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(20);
  }
}

describe("recovery in cluster mode (Redis log and sessions, two processes, a balancer)", () => {
  it("a transport cut, back through the other instance: same id, rooms back, every missed event once and in order", {
    timeout: 30_000,
  }, async () => {
    const [a, b] = await instances();
    const alice = await client(a, "alice");
    const bob = await client(b, "bob");
    expect((await ask(alice, "join", "lobby")).ok).toBe(true);
    const got = heard(alice);
    const idBefore = alice.id;
    await ask(bob, "say", { room: "lobby", seq: 1 });
    await eventually(() => got.length === 1);

    balancer?.setBackends([b.port]);
    const away = disconnected(alice);
    await a.call("cut", { id: idBefore });
    await away;
    for (let seq = 2; seq <= 6; seq++) await ask(bob, "say", { room: "lobby", seq });
    await connected(alice);
    expect(alice.recovered).toBe(true);
    expect(alice.id).toBe(idBefore);
    expect(await ask(alice, "pid", null)).toEqual({ ok: true, data: b.proc.pid });
    // Its room is back on B: a new room event reaches it, after the missed ones.
    await ask(bob, "say", { room: "lobby", seq: 7 });
    await eventually(() => got.length >= 7);
    await sleep(100);
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("its instance SIGKILLed: the client recovers through the other one (the session was kept while it lived)", {
    timeout: 30_000,
  }, async () => {
    const [a, b] = await instances();
    const alice = await client(a, "alice", { delayMs: 800 });
    const bob = await client(b, "bob");
    // The note is kept with the session when the join rewrites it.
    expect((await ask(alice, "note", "kept")).ok).toBe(true);
    expect((await ask(alice, "join", "lobby")).ok).toBe(true);
    const got = heard(alice);
    const idBefore = alice.id;
    await ask(bob, "say", { room: "lobby", seq: 1 });
    await eventually(() => got.length === 1);

    balancer?.setBackends([b.port]);
    const away = disconnected(alice);
    await a.kill();
    await away;
    for (let seq = 2; seq <= 6; seq++) await ask(bob, "say", { room: "lobby", seq });
    await connected(alice);
    expect(alice.recovered).toBe(true);
    expect(alice.id).toBe(idBefore);
    expect((await ask(alice, "noted", null)).data).toEqual({ note: "kept", user: "alice" });
    await ask(bob, "say", { room: "lobby", seq: 7 });
    await eventually(() => got.length >= 7);
    await sleep(100);
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("broadcasts from both instances all along the cut and the catch-up: the recovered client gets what a connected one got, in its order, once", {
    timeout: 30_000,
  }, async () => {
    const [a, b] = await instances();
    const alice = await client(a, "alice");
    const dave = await client(a, "dave");
    const bob = await client(a, "bob");
    const carol = await client(b, "carol");
    for (const c of [alice, dave]) expect((await ask(c, "join", "lobby")).ok).toBe(true);
    const gotAlice = heard(alice);
    const gotDave = heard(dave);

    let running = true;
    let seq = 0;
    const senders = [bob, carol].map(async (c) => {
      while (running) {
        await ask(c, "say", { room: "lobby", seq: ++seq });
        await sleep(5);
      }
    });
    await sleep(200);
    balancer?.setBackends([b.port]);
    const away = disconnected(alice);
    await a.call("cut", { id: alice.id });
    await away;
    await connected(alice);
    expect(alice.recovered).toBe(true);
    await sleep(300);
    running = false;
    await Promise.all(senders);
    await eventually(() => gotAlice.length >= gotDave.length && gotDave.length === seq, 5000).catch(() => undefined);
    await sleep(200);
    console.log(
      `[figure] cluster recovery under concurrent broadcasts: ${seq} sent, the recovered client got ${gotAlice.length}, a connected one ${gotDave.length}`,
    );
    expect(new Set(gotAlice).size).toBe(gotAlice.length);
    expect(gotDave.length).toBe(seq);
    expect(gotAlice).toEqual(gotDave);
  });

  it("auth runs again: a revoked user is refused (UNAUTHORIZED) and recovers nothing", { timeout: 30_000 }, async () => {
    const [a, b] = await instances();
    const alice = await client(a, "alice", { auth: { checkRevoked: true } });
    const bob = await client(b, "bob");
    await ask(alice, "join", "lobby");
    const got = heard(alice);
    const redis = testRedis();
    try {
      await redis.set(`${prefix}state:revoked:alice`, JSON.stringify(true));
    } finally {
      redis.disconnect();
    }
    balancer?.setBackends([b.port]);
    const refused = new Promise<Error>((resolve) => alice.once("connect_error", resolve));
    await a.call("cut", { id: alice.id });
    await ask(bob, "say", { room: "lobby", seq: 1 });
    expect((await refused).message).toBe("UNAUTHORIZED");
    await sleep(200);
    expect(got).toEqual([]);
    expect(alice.connected).toBe(false);
  });

  it("past recovery.windowMs the client connects fresh (recovered false, a new id)", { timeout: 30_000 }, async () => {
    const [a, b] = await instances({ recovery: { windowMs: 1000 } });
    const alice = await client(a, "alice", { delayMs: 1800 });
    const idBefore = alice.id;
    balancer?.setBackends([b.port]);
    const away = disconnected(alice);
    await a.call("cut", { id: idBefore });
    await away;
    await connected(alice);
    expect(alice.recovered).toBe(false);
    expect(alice.id).not.toBe(idBefore);
  });
});
