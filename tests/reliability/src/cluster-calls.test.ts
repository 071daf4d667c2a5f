/**
 * Cluster calls that degrade (SPEC 12): `rt.disconnectUser`, `rt.revalidate` and
 * `rt.fetchSockets` finish by `scale.commandTimeoutMs` when an instance is frozen (SIGSTOP)
 * or gone mid-deploy, with the answers of the others and the frozen one named in `missing`,
 * every time; with every instance up they are complete and do not wait for the deadline.
 * Three (then five) OS processes, one real Redis.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RealtimeConfigInput } from "@loly-rt/core";
import { deleteKeys, redisUrl, testPrefix, testRedis } from "../../setup/redis.js";
import { closeClients, connectClient, disconnected, eventually } from "./support/clients.js";
import { startInstance, type Proc } from "./support/procs.js";

const DEADLINE_MS = 1000;
/** What a call may take beyond its deadline on a loaded 2-core machine (timers, JSON, IPC-free). */
const MARGIN_MS = 1500;

function clusterConfig(prefix: string): RealtimeConfigInput {
  const url = redisUrl();
  return {
    logging: { level: "error", pretty: false },
    // presence.ttlMs is how long a silent instance stays named in `missing`: longer than this suite's freezes.
    scale: { mode: "cluster", adapter: { type: "redis", url }, stateStore: { type: "redis", url, prefix }, commandTimeoutMs: DEADLINE_MS },
    presence: { ttlMs: 60_000 },
    limits: { eventsPerSecond: 1000, burst: 1000, connectionsPerIp: 1000 },
  };
}

interface Fetched {
  instances: number;
  results: Array<{
    id: string;
    namespace: string;
    rooms: string[];
    userId: string | null;
    data: Record<string, unknown>;
    instance: string;
  }>;
  missing: string[];
}
interface Revalidated {
  instances: number;
  checked: number;
  disconnected: number;
  failed: number;
  missing: string[];
}
interface Disconnected {
  instances: number;
  disconnected: number;
  missing: string[];
}
type Op = "fetchSockets" | "revalidate" | "disconnectUser";
type Timed<T> = { ms: number; result: T };

function timed<T>(p: Proc, op: Op, args: Record<string, unknown> = {}): Promise<Timed<T>> {
  return p.call<Timed<T>>("timedCall", { op, ...args });
}

/** SIGSTOPs `p` while `fn` runs; SIGCONT whatever happens. */
async function frozen<T>(p: Proc, fn: () => Promise<T>): Promise<T> {
  p.proc.kill("SIGSTOP");
  try {
    return await fn();
  } finally {
    p.proc.kill("SIGCONT");
  }
}

const procs: Proc[] = [];
async function start(prefix: string): Promise<Proc> {
  const p = await startInstance(clusterConfig(prefix));
  procs.push(p);
  return p;
}

describe("cluster calls with a frozen or departed instance", () => {
  const prefix = testPrefix("rel-calls");
  let a: Proc;
  let b: Proc;
  let c: Proc;
  const id = new Map<Proc, string>();

  beforeAll(async () => {
    [a, b, c] = await Promise.all([start(prefix), start(prefix), start(prefix)]);
    for (const p of [a, b, c]) id.set(p, await p.call<string>("instanceId"));
    // every instance has heard the other two (hellos at start)
    for (const p of [a, b, c]) await eventually(async () => (await timed<Fetched>(p, "fetchSockets")).result.instances === 3, 10_000);
  }, 60_000);
  afterEach(() => closeClients());
  afterAll(async () => {
    closeClients();
    for (const p of procs) if (p.alive) p.proc.kill("SIGCONT");
    await Promise.all(procs.map((p) => p.kill()));
    await deleteKeys(prefix);
  });

  it("all up: complete results, missing empty, answered before the deadline; copies only", async () => {
    await Promise.all([
      connectClient(a.url, "/rel", { token: "alice", room: "lobby" }),
      connectClient(b.url, "/rel", { token: "alice:s2", room: "lobby" }),
      connectClient(c.url, "/rooms/r1", { token: "bob" }),
      connectClient(c.url, "/rel", {}),
    ]);
    const all = await timed<Fetched>(a, "fetchSockets");
    expect(all.result.missing).toEqual([]);
    expect(all.result.instances).toBe(3);
    expect(all.result.results).toHaveLength(4);
    // every instance answered: no wait for the deadline
    expect(all.ms).toBeLessThan(DEADLINE_MS);
    for (const s of all.result.results) expect(Object.keys(s).sort()).toEqual(["data", "id", "instance", "namespace", "rooms", "userId"]);
    expect(all.result.results.map((s) => s.userId).sort()).toEqual([null, "alice", "alice", "bob"].sort());

    const alice = await timed<Fetched>(c, "fetchSockets", { filter: { user: "alice" } });
    expect(alice.result.results.map((s) => s.instance).sort()).toEqual([id.get(a), id.get(b)].sort());
    for (const s of alice.result.results) {
      expect(s.rooms).toEqual(["lobby"]);
      expect(s.data).toEqual({});
    }
    const dynamic = await timed<Fetched>(b, "fetchSockets", { filter: { namespace: "/rooms/[id]" } });
    expect(dynamic.result.results).toMatchObject([{ namespace: "/rooms/r1", userId: "bob", instance: id.get(c) }]);
    expect((await timed<Fetched>(a, "fetchSockets", { filter: { room: "lobby", namespace: "/rel" } })).result.results).toHaveLength(2);

    const rv = await timed<Revalidated>(b, "revalidate", { filter: { userId: "alice" } });
    expect(rv.result).toEqual({ instances: 3, checked: 2, disconnected: 0, failed: 0, missing: [] });
    const dc = await timed<Disconnected>(c, "disconnectUser", { userId: "nobody" });
    expect(dc.result).toEqual({ instances: 3, disconnected: 0, missing: [] });
    console.log(
      `[figure] cluster calls, 3 instances up: fetchSockets ${all.ms.toFixed(1)} ms, revalidate ${rv.ms.toFixed(1)} ms, disconnectUser ${dc.ms.toFixed(1)} ms`,
    );
  });

  it("B frozen: each call answers by the deadline with A's and C's results and names B in missing; B runs the disconnect when it resumes", async () => {
    const carol = await Promise.all([
      connectClient(a.url, "/rel", { token: "carol", room: "ops" }),
      connectClient(b.url, "/rel", { token: "carol", room: "ops" }),
      connectClient(c.url, "/rooms/r2", { token: "carol" }),
    ]);
    const [onA, onB, onC] = carol as [(typeof carol)[0], (typeof carol)[0], (typeof carol)[0]];
    const goneB = disconnected(onB, 20_000);
    const numsub = testRedis();
    await frozen(b, async () => {
      const found = await timed<Fetched>(a, "fetchSockets", { filter: { user: "carol" } });
      expect(found.result.missing).toEqual([id.get(b)]);
      expect(found.result.instances).toBe(2);
      expect(found.result.results.map((s) => s.instance).sort()).toEqual([id.get(a), id.get(c)].sort());
      expect(found.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);

      const rv = await timed<Revalidated>(c, "revalidate", { filter: { userId: "carol" } });
      expect(rv.result).toEqual({ instances: 2, checked: 2, disconnected: 0, failed: 0, missing: [id.get(b)] });
      expect(rv.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);

      const goneA = disconnected(onA);
      const goneC = disconnected(onC);
      const dc = await timed<Disconnected>(a, "disconnectUser", { userId: "carol" });
      expect(dc.result).toEqual({ instances: 2, disconnected: 2, missing: [id.get(b)] });
      expect(dc.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
      expect(await Promise.all([goneA, goneC])).toEqual(["io server disconnect", "io server disconnect"]);
      // the adapter still counts the frozen process as a subscriber: a count cannot tell who is missing
      const [, subscribers] = (await numsub.pubsub("NUMSUB", `${prefix}socket.io-request#/#`)) as [string, number];
      console.log(
        `[figure] cluster calls, 1 of 3 frozen (deadline ${DEADLINE_MS} ms): fetchSockets ${found.ms.toFixed(0)} ms, revalidate ${rv.ms.toFixed(0)} ms, disconnectUser ${dc.ms.toFixed(0)} ms; PUBSUB NUMSUB of the request channel meanwhile: ${subscribers}`,
      );
    });
    numsub.disconnect();
    // resumed, B reads the request it missed and cuts carol off there too
    expect(await goneB).toBe("io server disconnect");
    await eventually(async () => (await timed<Fetched>(a, "fetchSockets")).result.missing.length === 0, 10_000);
  });

  it("the deadline holds every time: 9 calls from A and C with B frozen, each names B only and counts A and C", async () => {
    await Promise.all([
      connectClient(a.url, "/rel", { token: "dave" }),
      connectClient(b.url, "/rel", { token: "dave" }),
      connectClient(c.url, "/rel", { token: "dave" }),
    ]);
    const times: number[] = [];
    await frozen(b, async () => {
      for (let i = 0; i < 9; i++) {
        const from = i % 2 === 0 ? a : c;
        const op: Op = (["fetchSockets", "revalidate", "disconnectUser"] as const)[i % 3] as Op;
        // disconnectUser of a user with no sockets: the sockets stay for the next rounds
        const args =
          op === "disconnectUser" ? { userId: "nobody" } : { filter: op === "fetchSockets" ? { user: "dave" } : { userId: "dave" } };
        const { ms, result } = await timed<Fetched & Revalidated & Disconnected>(from, op, args);
        times.push(ms);
        expect(result.missing, `call ${i} (${op})`).toEqual([id.get(b)]);
        expect(result.instances, `call ${i} (${op})`).toBe(2);
        if (op === "fetchSockets") expect(result.results.map((s) => s.instance).sort()).toEqual([id.get(a), id.get(c)].sort());
        if (op === "revalidate") expect(result.checked).toBe(2);
        expect(ms, `call ${i} (${op})`).toBeLessThan(DEADLINE_MS + MARGIN_MS);
      }
      // the same question through Socket.IO's own io.fetchSockets(): the adapter's requestsTimeout, then a rejection
      const stock = await a.call<{ ms: number; count?: number; error?: string }>("ioFetchSockets");
      console.log(
        `[figure] Socket.IO io.fetchSockets() with 1 of 3 frozen: ${stock.error ? `rejected after ${stock.ms.toFixed(0)} ms (${stock.error})` : `${stock.count} sockets after ${stock.ms.toFixed(0)} ms`}`,
      );
    });
    const sorted = [...times].sort((x, y) => x - y);
    console.log(
      `[figure] 9 cluster calls with 1 of 3 frozen, deadline ${DEADLINE_MS} ms: min ${sorted[0]?.toFixed(0)} ms, median ${sorted[4]?.toFixed(0)} ms, max ${sorted[8]?.toFixed(0)} ms; 9/9 named the frozen instance`,
    );
  }, 40_000);

  it("mid-deploy: an instance that stopped gracefully is not waited for; one SIGKILLed is named until presence.ttlMs", async () => {
    const [d, e] = await Promise.all([start(prefix), start(prefix)]);
    const idD = await d.call<string>("instanceId");
    const idE = await e.call<string>("instanceId");
    await eventually(async () => (await timed<Fetched>(a, "fetchSockets")).result.instances === 5, 10_000);
    // the new instances know the old ones too
    expect((await timed<Fetched>(d, "fetchSockets")).result).toMatchObject({ instances: 5, missing: [] });
    expect(await d.stop()).toBe(0);
    const afterStop = await timed<Fetched>(a, "fetchSockets");
    expect(afterStop.result).toMatchObject({ instances: 4, missing: [] });
    expect(afterStop.ms).toBeLessThan(DEADLINE_MS);
    expect(afterStop.result.missing).not.toContain(idD);
    await e.kill();
    const afterKill = await timed<Revalidated>(c, "revalidate");
    expect(afterKill.result).toMatchObject({ instances: 3, missing: [idE] });
    expect(afterKill.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
  }, 60_000);
});
