/**
 * Live presence in a cluster (SPEC 13): instances in their own OS processes over one real
 * Redis. A user's first socket in a room and their last one out reach the room's members on
 * every instance once, whichever instances the sockets are on and however they race; the users
 * of a SIGKILLed instance leave within `presence.ttlMs`, once; and what it costs in Redis
 * commands, counted with MONITOR on this run's own key prefix.
 */
import type { PresenceDiff, RealtimeConfigInput } from "@loly-rt/core";
import { Redis } from "ioredis";
import type { Socket } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, redisUrl, testPrefix } from "../../setup/redis.js";
import { ask, closeSockets, connectTo, startInstance, type Instance } from "./harness.js";

const PRESENCE_TTL = 1500;
const FIXTURE = "fixtures/live-instance.ts";

function clusterConfig(prefix: string, extra: RealtimeConfigInput = {}): RealtimeConfigInput {
  const url = redisUrl();
  return {
    logging: { level: "warn", pretty: false },
    scale: { mode: "cluster", adapter: { type: "redis", url }, stateStore: { type: "redis", url, prefix } },
    presence: { ttlMs: PRESENCE_TTL },
    limits: { eventsPerSecond: 1000, burst: 1000, connectionsPerIp: 200 },
    ...extra,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(10);
  }
}

/**
 * Every `__loly:presence` about `users` a socket receives, with when it came (the watchers'
 * own arrivals and departures cross the adapter too, and may come after their join's ack).
 */
function diffsOf(socket: Socket, users: (userId: string) => boolean): Array<PresenceDiff & { at: number }> {
  const seen: Array<PresenceDiff & { at: number }> = [];
  socket.on("__loly:presence", (d: PresenceDiff) => {
    if (users(String(d.joined ?? d.left))) seen.push({ ...d, at: Date.now() });
  });
  return seen;
}

const plain = (list: Array<PresenceDiff & { at: number }>): PresenceDiff[] => list.map(({ at: _at, ...d }) => d as PresenceDiff);

describe("live presence: two instances", () => {
  const prefix = testPrefix("live-presence");
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    [a, b] = await Promise.all([startInstance(clusterConfig(prefix), FIXTURE), startInstance(clusterConfig(prefix), FIXTURE)]);
  });
  afterEach(() => closeSockets());
  afterAll(async () => {
    closeSockets();
    await Promise.all([a?.kill(), b?.kill()]);
    await deleteKeys(prefix);
  });

  it("a user with sockets on both instances: one arrival and one departure reach the members on each", async () => {
    const wa = await connectTo(a, { userId: "watch-a" }, "/live");
    const wb = await connectTo(b, { userId: "watch-b" }, "/live");
    await ask(wa, "join", "lobby");
    await ask(wb, "join", "lobby");
    const onA = diffsOf(wa, (u) => u === "ursula");
    const onB = diffsOf(wb, (u) => u === "ursula");
    const ua = await connectTo(a, { userId: "ursula" }, "/live");
    const ub = await connectTo(b, { userId: "ursula" }, "/live");
    await ask(ua, "join", "lobby");
    await ask(ub, "join", "lobby");
    await ask(ua, "leave", "lobby");
    ub.disconnect();
    for (const seen of [onA, onB]) await until(() => seen.length >= 2, "an arrival and a departure");
    await sleep(200);
    for (const seen of [onA, onB]) {
      expect(plain(seen)).toEqual([
        { room: "lobby", joined: "ursula" },
        { room: "lobby", left: "ursula" },
      ]);
    }
  });

  it("joins racing on both instances: exactly one arrival per user; leaves racing: exactly one departure", async () => {
    const wa = await connectTo(a, { userId: "watch-a" }, "/live");
    await ask(wa, "join", "race");
    const seen = diffsOf(wa, (u) => u.startsWith("racer-"));
    const users = Array.from({ length: 20 }, (_, i) => `racer-${i}`);
    const pairs = await Promise.all(
      users.map(async (u) => [await connectTo(a, { userId: u }, "/live"), await connectTo(b, { userId: u }, "/live")] as const),
    );
    await Promise.all(pairs.flatMap(([sa, sb]) => [ask(sa, "join", "race"), ask(sb, "join", "race")]));
    await until(() => seen.length >= users.length, "every arrival");
    await Promise.all(pairs.flatMap(([sa, sb]) => [ask(sa, "leave", "race"), ask(sb, "leave", "race")]));
    await until(() => seen.length >= 2 * users.length, "every departure");
    await sleep(300);
    for (const u of users) {
      expect(plain(seen).filter((d) => d.joined === u).length, `${u} arrivals`).toBe(1);
      expect(plain(seen).filter((d) => d.left === u).length, `${u} departures`).toBe(1);
    }
    expect(seen.length).toBe(2 * users.length);
    expect(await ask<string[]>(wa, "roomUsers", "race")).toEqual(["watch-a"]);
  });

  it("the users of a SIGKILLed instance leave within presence.ttlMs, once, on every instance", async () => {
    const c = await startInstance(clusterConfig(prefix), FIXTURE);
    try {
      const wa = await connectTo(a, { userId: "watch-a" }, "/live");
      const wb = await connectTo(b, { userId: "watch-b" }, "/live");
      await ask(wa, "join", "crash");
      await ask(wb, "join", "crash");
      const theirs = (u: string): boolean => u === "stays" || u.startsWith("victim-");
      const onA = diffsOf(wa, theirs);
      const onB = diffsOf(wb, theirs);
      // "stays" is on the victim and on a: only the victim's own users leave with it.
      const stays = await connectTo(a, { userId: "stays" }, "/live");
      await ask(stays, "join", "crash");
      for (const u of ["victim-1", "victim-2", "stays"]) await ask(await connectTo(c, { userId: u }, "/live"), "join", "crash");
      for (const seen of [onA, onB]) await until(() => seen.length === 3, "three arrivals");
      const killedAt = Date.now();
      await c.kill();
      for (const seen of [onA, onB]) await until(() => seen.length >= 5, "two departures", PRESENCE_TTL * 4);
      const took = Math.max(...[...onA.slice(3), ...onB.slice(3)].map((d) => d.at - killedAt));
      console.log(`[live presence] departures of a SIGKILLed instance's users after ${took} ms (presence.ttlMs ${PRESENCE_TTL})`);
      expect(took).toBeLessThanOrEqual(PRESENCE_TTL + 500);
      await sleep(PRESENCE_TTL);
      for (const seen of [onA, onB]) {
        const diffs = plain(seen);
        expect(diffs.slice(0, 3)).toEqual([
          { room: "crash", joined: "stays" },
          { room: "crash", joined: "victim-1" },
          { room: "crash", joined: "victim-2" },
        ]);
        expect(diffs.slice(3).sort((x, y) => String(x.left).localeCompare(String(y.left)))).toEqual([
          { room: "crash", left: "victim-1" },
          { room: "crash", left: "victim-2" },
        ]);
      }
      expect((await ask<string[]>(wb, "roomUsers", "crash")).sort()).toEqual(["stays", "watch-a", "watch-b"]);
    } finally {
      await c.kill();
    }
  });
});

describe("live presence: a graceful stop", () => {
  const prefix = testPrefix("live-presence-stop");
  let a: Instance;
  beforeAll(async () => {
    a = await startInstance(clusterConfig(prefix), FIXTURE);
  });
  afterAll(async () => {
    closeSockets();
    await a?.kill();
    await deleteKeys(prefix);
  });

  it("SIGTERM: the drain's disconnects announce the instance's users leaving, once, before presence.ttlMs", async () => {
    const c = await startInstance(clusterConfig(prefix, { shutdown: { drainMs: 200 } }), FIXTURE);
    try {
      const watcher = await connectTo(a, { userId: "watch" }, "/live");
      await ask(watcher, "join", "bye");
      const seen = diffsOf(watcher, (u) => u.startsWith("leaver-"));
      for (const u of ["leaver-1", "leaver-2"]) await ask(await connectTo(c, { userId: u }, "/live"), "join", "bye");
      await until(() => seen.length === 2, "two arrivals");
      const stoppedAt = Date.now();
      expect(await c.stop()).toBe(0);
      await until(() => seen.length >= 4, "two departures", 3000);
      // From the drain, not from the expiry of a stopped instance (which would take presence.ttlMs).
      expect(Math.max(...seen.slice(2).map((d) => d.at)) - stoppedAt).toBeLessThan(PRESENCE_TTL);
      await sleep(PRESENCE_TTL);
      expect(plain(seen.slice(2)).sort((x, y) => String(x.left).localeCompare(String(y.left)))).toEqual([
        { room: "bye", left: "leaver-1" },
        { room: "bye", left: "leaver-2" },
      ]);
      expect(seen.length).toBe(4);
    } finally {
      await c.kill();
    }
  });
});

/**
 * The Redis commands of one join or leave, from MONITOR, for this run's prefix only (other
 * suites share the Redis): round trips (commands a client sent) and the commands scripts ran.
 */
interface Cost {
  sent: Record<string, number>;
  inScripts: number;
}

const total = (c: Cost | undefined): number => Object.values(c?.sent ?? {}).reduce((s, n) => s + n, 0);

const ROUNDS = 3;

async function measureCosts(prefix: string, ops: Array<[name: string, op: () => Promise<unknown>]>): Promise<Record<string, Cost>> {
  const redis = new Redis(redisUrl());
  const monitor = await redis.monitor();
  const lines: Array<{ args: string[]; source: string }> = [];
  monitor.on("monitor", (_time: string, args: string[], source: string) => {
    if (args.some((arg) => String(arg).includes(prefix))) lines.push({ args: args.map(String), source });
  });
  const marks = new Redis(redisUrl());
  try {
    await sleep(100);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, op] of ops) {
        await marks.echo(`${prefix}mark:start:${round}:${name}`);
        await op();
        await sleep(100); // with recovery on, the announcement is published once the log took it
        await marks.echo(`${prefix}mark:end:${round}:${name}`);
      }
    }
    await sleep(200);
  } finally {
    monitor.disconnect();
    marks.disconnect();
    redis.disconnect();
  }
  const rounds: Array<Record<string, Cost>> = Array.from({ length: ROUNDS }, () => ({}));
  let current: Cost | null = null;
  for (const { args, source } of lines) {
    const [command, first] = args;
    if (command?.toLowerCase() === "echo") {
      const m = /mark:(start|end):(\d+):(.+)$/.exec(String(first));
      if (m)
        current = m[1] === "start" ? ((rounds[Number(m[2])] as Record<string, Cost>)[m[3] as string] = { sent: {}, inScripts: 0 }) : null;
      continue;
    }
    if (!current) continue;
    if (source === "lua") current.inScripts++;
    else {
      const key = String(command).toLowerCase();
      current.sent[key] = (current.sent[key] ?? 0) + 1;
    }
  }
  // The adapters' own heartbeats (every 5 s per namespace and instance) may land in a window:
  // each operation's cost is its cheapest round.
  const costs: Record<string, Cost> = {};
  for (const [name] of ops) {
    const seen = rounds.map((r) => r[name]).filter((c): c is Cost => c !== undefined);
    costs[name] = seen.reduce((best, c) => (total(c) < total(best) ? c : best));
  }
  return costs;
}

for (const recovery of [true, false]) {
  describe(`live presence: Redis commands per join and leave (recovery ${recovery ? "on" : "off"})`, () => {
    const prefix = testPrefix(`live-cost-${recovery ? "r" : "n"}`);
    let a: Instance;
    let b: Instance;
    beforeAll(async () => {
      // A long ttl: no heartbeat while measuring.
      const cfg = clusterConfig(prefix, { presence: { ttlMs: 120_000 }, ...(recovery ? {} : { recovery: false }) });
      [a, b] = await Promise.all([startInstance(cfg, FIXTURE), startInstance(cfg, FIXTURE)]);
    });
    afterAll(async () => {
      closeSockets();
      await Promise.all([a?.kill(), b?.kill()]);
      await deleteKeys(prefix);
    });

    it("a broadcasting route costs its join/leave's one script call, plus one publish for a change the room hears", async () => {
      // Members on the other instance, so the announcement crosses the adapter.
      const wl = await connectTo(b, { userId: "watch" }, "/live");
      const wq = await connectTo(b, { userId: "watch" }, "/quiet");
      await ask(wl, "join", "r");
      await ask(wq, "join", "r");
      const l1 = await connectTo(a, { userId: "m" }, "/live");
      const l2 = await connectTo(a, { userId: "m" }, "/live");
      const q1 = await connectTo(a, { userId: "m" }, "/quiet");
      const q2 = await connectTo(a, { userId: "m" }, "/quiet");
      // Scripts loaded, adapter warmed up.
      await ask(await connectTo(a, { userId: "warm" }, "/live"), "join", "warm");
      await ask(await connectTo(a, { userId: "warm" }, "/quiet"), "join", "warm");
      await sleep(200);

      /** The same four steps on a route: a user's first socket in, a second one, the first out, the last out. */
      const steps = (ns: string, s1: Socket, s2: Socket): Array<[string, () => Promise<unknown>]> => [
        [`${ns} join (first socket)`, () => ask(s1, "join", "r")],
        [`${ns} join (second socket)`, () => ask(s2, "join", "r")],
        [`${ns} leave (not the last)`, () => ask(s1, "leave", "r")],
        [`${ns} leave (the last)`, () => ask(s2, "leave", "r")],
      ];
      const costs = await measureCosts(prefix, [...steps("quiet", q1, q2), ...steps("live", l1, l2)]);
      for (const [name, cost] of Object.entries(costs)) {
        console.log(
          `[live presence cost, recovery ${recovery ? "on" : "off"}] ${name}: ${total(cost)} commands sent (${JSON.stringify(cost.sent)}), ${cost.inScripts} run by scripts`,
        );
      }
      for (const step of ["join (first socket)", "join (second socket)", "leave (not the last)", "leave (the last)"]) {
        // The presence write: one script call, announcement or not.
        expect(costs[`quiet ${step}`]?.sent.evalsha, step).toBeGreaterThanOrEqual(1);
        const announced = step === "join (first socket)" || step === "leave (the last)";
        // A change the room hears costs one command more (its publish); no change, nothing more.
        expect(total(costs[`live ${step}`]), step).toBe(total(costs[`quiet ${step}`]) + (announced ? 1 : 0));
      }
    });
  });
}
