/**
 * Presence at scale (issue "Hardening", item 4). Redis runs one script at a time, so a script
 * call whose work grows with the sockets or rooms of an instance blocks every other client:
 * 20,000 rooms on one socket made each heartbeat block Redis for 46-60 ms. Whatever an
 * instance holds, no single script call of its heartbeat, re-assert or close, nor of another
 * instance forgetting it after a crash, may touch more than a bounded number of keys or carry
 * more than a bounded number of arguments.
 *
 * Deterministic, not timed: before a phase every key of the instance gets an expiry far beyond
 * `ttlMs`; the test's client sends the script calls one at a time, and after each one the keys
 * whose expiry came back under `2 * ttlMs` (renewed, rewritten) or that are gone (deleted) are the
 * keys that call touched. Durations come from the SLOWLOG of a redis-server of the test's own
 * and are printed as figures. `LOLY_PRESENCE_SCALE=full` runs the sizes (50,000
 * sockets over 1,000 rooms; one socket in 20,000 rooms).
 */
import { EventEmitter } from "node:events";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RedisArg, RedisClientLike } from "@loly-rt/core/redis";
import { createRedisPresence, type RedisPresence } from "@loly-rt/presence";
import { eventually } from "./support/clients.js";
import { startOwnRedis, type OwnRedis } from "./support/procs.js";

const FULL = process.env.LOLY_PRESENCE_SCALE === "full";
const SOCKETS = FULL ? 50_000 : 3_000;
const ROOMS = FULL ? 1_000 : 60;
const ROOMS_OF_ONE = FULL ? 20_000 : 3_000;
/** Far more than anything an instance needs per call, far less than what it holds. */
const MAX_KEYS_PER_CALL = 1_000;
const MAX_ARGS_PER_CALL = 4_096;
const MAX_REPLY_PER_CALL = 2_048;
const TTL_MS = 600_000; // no timer heartbeat during the test: the test triggers each one
const FAR = 100 * TTL_MS;
const PREFIX = "scale:";
/** A beat is over once no script call was pending for this long (a snapshot of 50,000 sockets takes a while to build). */
const QUIET_MS = FULL ? 1500 : 300;

/**
 * A client of the RedisClientLike shape over a real one. While `observe` is set, script calls
 * go to Redis one at a time and `observe` runs after each; `partitioned` makes them fail.
 */
class StepClient implements RedisClientLike {
  observe: ((args: readonly RedisArg[], reply: unknown) => Promise<void>) | undefined;
  partitioned = false;
  private readonly events = new EventEmitter();
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private lastAt = 0;

  constructor(readonly real: Redis) {}
  get status(): string {
    return this.real.status;
  }
  get options(): { keyPrefix?: string } {
    return { keyPrefix: this.real.options.keyPrefix };
  }
  evalsha(sha: string, numKeys: number, ...args: RedisArg[]): Promise<unknown> {
    return this.send(() => this.real.evalsha(sha, numKeys, ...args), args);
  }
  eval(source: string, numKeys: number, ...args: RedisArg[]): Promise<unknown> {
    return this.send(() => this.real.eval(source, numKeys, ...args), args);
  }
  del(key: string): Promise<number> {
    return this.real.del(key);
  }
  quit(): Promise<unknown> {
    return this.real.quit();
  }
  disconnect(): void {
    this.real.disconnect();
  }
  on(event: string, listener: (err: Error) => void): unknown {
    return this.events.on(event, listener);
  }
  off(event: string, listener: (err: Error) => void): unknown {
    return this.events.off(event, listener);
  }
  once(event: string, listener: () => void): unknown {
    return this.events.once(event, listener);
  }
  /** Runs a heartbeat now (the registry beats on every "ready"). */
  beat(): void {
    this.events.emit("ready");
  }
  /** Resolves once no script call has been pending for QUIET_MS. */
  async settled(): Promise<void> {
    await eventually(async () => this.pending === 0 && performance.now() - this.lastAt > QUIET_MS, 60_000, 25);
  }

  private send(call: () => Promise<unknown>, args: readonly RedisArg[]): Promise<unknown> {
    if (this.partitioned) return Promise.reject(new Error("partitioned by the test"));
    const observe = this.observe;
    this.pending++;
    const run = async (): Promise<unknown> => {
      let reply: unknown;
      try {
        reply = await call();
        return reply;
      } finally {
        if (observe) await observe(args, reply);
        this.pending--;
        this.lastAt = performance.now();
      }
    };
    if (!observe) return run();
    const result = this.queue.then(run);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

interface PhaseFigures {
  calls: number;
  /** The most keys one call touched. */
  maxKeys: number;
  /** Keys touched over the phase. */
  keys: number;
  maxArgs: number;
  /** The most elements in one reply. */
  maxReply: number;
  /** The longest EVALSHA or EVAL (which also compiles the script), in µs (SLOWLOG). */
  longestUs: number;
  /** The mean EVALSHA, in µs (INFO commandstats). */
  meanUs: number;
}

let own: OwnRedis;
let redis: Redis;

beforeAll(async () => {
  own = await startOwnRedis();
  redis = new Redis(own.url);
  // Not 0: Redis 7 logs the commands a script calls too, which slows the script down.
  await redis.config("SET", "slowlog-log-slower-than", "100");
  await redis.config("SET", "slowlog-max-len", "10000");
});

afterAll(async () => {
  redis?.disconnect();
  await own?.kill();
});

const opened: Array<{ presence: RedisPresence; client: StepClient }> = [];
afterAll(async () => {
  for (const { presence, client } of opened) {
    client.partitioned = false;
    client.observe = undefined;
    await presence.close();
    client.disconnect();
  }
});

async function openInstance(): Promise<{ presence: RedisPresence; client: StepClient }> {
  const client = new StepClient(new Redis(own.url));
  const presence = createRedisPresence({ redis: client, prefix: PREFIX, ttlMs: TTL_MS });
  opened.push({ presence, client });
  await eventually(async () => (await redis.zscore(`${PREFIX}presence:instances`, presence.instanceId)) !== null, 5000);
  return { presence, client };
}

/** The data hashes of an instance, as its keys set lists them. */
const dataKeys = (id: string): Promise<string[]> => redis.smembers(`${PREFIX}presence:i:${id}:keys`);

/**
 * Runs `act` with `client`'s script calls observed one by one, and counts per call the keys of
 * `keys` it touched (expiry back under ttlMs, or gone).
 */
async function phase(client: StepClient, keys: string[], act: () => Promise<void>): Promise<PhaseFigures> {
  const pipe = redis.pipeline();
  for (const k of keys) pipe.pexpire(k, FAR);
  await pipe.exec();
  let untouched = keys;
  const figures: PhaseFigures = { calls: 0, maxKeys: 0, keys: 0, maxArgs: 0, maxReply: 0, longestUs: 0, meanUs: 0 };
  client.observe = async (args, reply) => {
    const ttls = redis.pipeline();
    for (const k of untouched) ttls.pttl(k);
    const replies = (await ttls.exec()) ?? [];
    const left: string[] = [];
    untouched.forEach((k, i) => {
      const ttl = Number(replies[i]?.[1]);
      // Data keys live 2 * ttlMs after a renewal (a survivor reads them when it drops a stopped instance).
      if (ttl === -2 || (ttl >= 0 && ttl <= 2 * TTL_MS)) return;
      left.push(k);
    });
    const touched = untouched.length - left.length;
    untouched = left;
    figures.calls++;
    figures.keys += touched;
    figures.maxKeys = Math.max(figures.maxKeys, touched);
    figures.maxArgs = Math.max(figures.maxArgs, args.length);
    figures.maxReply = Math.max(figures.maxReply, Array.isArray(reply) ? reply.flat().length : 1);
  };
  await redis.slowlog("RESET");
  await redis.config("RESETSTAT");
  try {
    await act();
    await client.settled();
  } finally {
    client.observe = undefined;
  }
  const log = (await redis.call("SLOWLOG", "GET", "-1")) as Array<[number, number, number, string[]]>;
  for (const [, , us, argv] of log) {
    if (/^eval(sha)?$/i.test(String(argv[0]))) figures.longestUs = Math.max(figures.longestUs, us);
  }
  const stats = /cmdstat_evalsha:calls=\d+,usec=\d+,usec_per_call=([\d.]+)/.exec(await redis.info("commandstats"));
  figures.meanUs = Math.round(Number(stats?.[1] ?? 0));
  return figures;
}

const show = (f: PhaseFigures): string =>
  `longest script call ${f.longestUs} µs (mean ${f.meanUs} µs) over ${f.calls} calls; at most ${f.maxKeys} keys, ${f.maxArgs} arguments and ${f.maxReply} reply elements per call`;

/** Heartbeats until one renews without re-asserting (scripts loaded, nothing dirty). */
async function warmUp(client: StepClient): Promise<void> {
  for (let i = 0; i < 3; i++) {
    client.beat();
    await client.settled();
  }
}

function expectBounded(what: string, f: PhaseFigures): void {
  console.log(`[figure] presence ${what}: ${show(f)}`);
  expect(f.maxKeys, `${what}: keys touched by one script call`).toBeLessThanOrEqual(MAX_KEYS_PER_CALL);
  expect(f.maxArgs, `${what}: arguments of one script call`).toBeLessThanOrEqual(MAX_ARGS_PER_CALL);
  expect(f.maxReply, `${what}: elements of one reply`).toBeLessThanOrEqual(MAX_REPLY_PER_CALL);
}

describe(`presence with ${ROOMS_OF_ONE} rooms on one socket`, () => {
  it("heartbeat, re-assert, another instance forgetting it and close each run in bounded script calls", { timeout: 300_000 }, async () => {
    const { presence, client } = await openInstance();
    await presence.add({ namespace: "/rooms", socketId: "s1", userId: "busy" });
    const joins: Array<Promise<boolean>> = [];
    for (let r = 0; r < ROOMS_OF_ONE; r++) joins.push(presence.join("/rooms", "s1", `r${r}`));
    await Promise.all(joins);
    await warmUp(client);
    const keys = await dataKeys(presence.instanceId);
    expect(keys.length).toBe(ROOMS_OF_ONE + 1);

    const beat = await phase(client, keys, async () => client.beat());
    expectBounded(`heartbeat, 1 socket in ${ROOMS_OF_ONE} rooms`, beat);
    expect(beat.keys, "every key renewed").toBe(keys.length);

    await redis.del(`${PREFIX}presence:i:${presence.instanceId}`); // Redis lost it: re-assert from the mirror
    const reassert = await phase(client, keys, async () => client.beat());
    expectBounded(`re-assert, 1 socket in ${ROOMS_OF_ONE} rooms`, reassert);
    expect(reassert.keys, "every key rewritten").toBe(keys.length);
    expect(await presence.users("/rooms", `r${ROOMS_OF_ONE - 1}`)).toEqual(["busy"]);
    expect((await dataKeys(presence.instanceId)).length).toBe(keys.length);

    // A survivor forgets it once its deadline passed (here: a partition and a deadline in the past).
    const survivor = await openInstance();
    await warmUp(survivor.client);
    client.partitioned = true;
    await redis.zadd(`${PREFIX}presence:instances`, "XX", 1, presence.instanceId);
    expect(await survivor.presence.users("/rooms", "r0")).toEqual([]);
    const forget = await phase(survivor.client, keys, async () => survivor.client.beat());
    expectBounded(`survivor forgetting a dead instance with ${ROOMS_OF_ONE} rooms`, forget);
    client.partitioned = false;

    client.beat(); // back from the partition: re-asserts
    await client.settled();
    expect(await survivor.presence.users("/rooms", "r0")).toEqual(["busy"]);
    const closing = await phase(client, await dataKeys(presence.instanceId), () => presence.close());
    expectBounded(`close, 1 socket in ${ROOMS_OF_ONE} rooms`, closing);
    expect(await redis.keys(`${PREFIX}presence:i:${presence.instanceId}*`)).toEqual([]);
  });
});

describe(`presence with ${SOCKETS} sockets over ${ROOMS} rooms`, () => {
  it("heartbeat and re-assert run in bounded script calls; readers answer whole", { timeout: 300_000 }, async () => {
    const { presence, client } = await openInstance();
    const writes: Array<Promise<unknown>> = [];
    for (let i = 0; i < SOCKETS; i++) {
      writes.push(presence.add({ namespace: "/chat", socketId: `s${i}`, userId: `u${i}` }));
      writes.push(presence.join("/chat", `s${i}`, `room-${i % ROOMS}`));
    }
    await Promise.all(writes);
    await warmUp(client);
    const keys = await dataKeys(presence.instanceId);
    expect(keys.length).toBe(ROOMS + 1);

    const beat = await phase(client, keys, async () => client.beat());
    expectBounded(`heartbeat, ${SOCKETS} sockets over ${ROOMS} rooms`, beat);
    expect(beat.keys).toBe(keys.length);

    await redis.del(`${PREFIX}presence:i:${presence.instanceId}`);
    const reassert = await phase(client, keys, async () => client.beat());
    expectBounded(`re-assert, ${SOCKETS} sockets over ${ROOMS} rooms`, reassert);
    expect(reassert.keys).toBe(keys.length);

    const read = await phase(client, [], async () => {
      expect(new Set(await presence.users("/chat")).size).toBe(SOCKETS);
      expect((await presence.users("/chat", "room-0")).length).toBe(SOCKETS / ROOMS);
    });
    expectBounded(`users() of ${SOCKETS} users on one instance`, read);
  });
});
