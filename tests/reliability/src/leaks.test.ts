/**
 * Waves of connect/disconnect against one instance (its own process, cluster mode on a real
 * Redis) with presence, rooms, dynamic namespaces, per-socket and cluster-wide limiters on.
 * After the waves: rooms, namespaces, sockets, presence and connection-count keys, limiter
 * buckets, timers, handles and listeners are back to their baseline, and the heap after GC is
 * within 10% of it.
 *
 * Clients are raw Engine.IO websockets (cheap enough to open thousands from one process).
 * LOLY_LEAK_WAVES / LOLY_LEAK_SOCKETS change the size.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RealtimeConfigInput } from "@loly-rt/core";
import { deleteKeys, redisUrl, testPrefix, testRedis } from "../../setup/redis.js";
import { eventually } from "./support/clients.js";
import { RawSocket } from "./support/raw.js";
import { sleep, startInstance, type Proc } from "./support/procs.js";

const WAVES = Number(process.env.LOLY_LEAK_WAVES ?? 5);
const PER_WAVE = Number(process.env.LOLY_LEAK_SOCKETS ?? 1500);
const BATCH = 100;

interface Stats {
  heapUsed: number;
  rss: number;
  nsps: number;
  rooms: number;
  sids: number;
  sockets: number;
  engineClients: number;
  resources: Record<string, number>;
  listeners: Record<string, number>;
}

async function openOne(url: string, i: number, wave: number): Promise<RawSocket> {
  const raw = await RawSocket.open(url);
  const dynamic = i % 5 === 0;
  const nsp = dynamic ? `/rooms/w${wave}-${i % 40}` : "/rel";
  const reply = await raw.connect(nsp, { token: `u${i % 300}`, room: `room-${i % 50}` });
  if (!reply.startsWith("40")) throw new Error(`refused: ${reply}`);
  raw.emit(nsp, ["fast"], 1);
  raw.emit(nsp, ["perSocket"], 2);
  raw.emit(nsp, ["join", `extra-${i % 7}`], 3);
  raw.emit(nsp, ["say", { room: `room-${i % 50}`, seq: i }]);
  return raw;
}

/** Opens `count` sockets (in batches), lets every event be answered, then closes them all. */
async function wave(url: string, count: number, n: number): Promise<void> {
  const sockets: RawSocket[] = [];
  for (let i = 0; i < count; i += BATCH) {
    sockets.push(...(await Promise.all(Array.from({ length: Math.min(BATCH, count - i) }, (_, j) => openOne(url, i + j, n)))));
  }
  // every socket's acks (its last one answers after the others: events run in order)
  await Promise.all(sockets.map((s) => s.received((f) => typeof f === "string" && /^43\/[^,]+,3\[/.test(f), 15_000)));
  for (const [i, s] of sockets.entries()) {
    if (i % 2 === 0)
      s.close(); // abrupt: TCP reset
    else s.ws.close(1000); // clean close
  }
}

describe.each([
  { mode: "cluster", waves: WAVES, perWave: PER_WAVE },
  { mode: "sharded", waves: Math.max(2, WAVES - 2), perWave: Math.ceil(PER_WAVE / 2) },
  { mode: "single", waves: Math.max(2, WAVES - 2), perWave: Math.ceil(PER_WAVE / 2) },
] as const)("leaks ($mode mode): $waves waves of $perWave sockets", ({ mode, waves, perWave }) => {
  const prefix = testPrefix("rel-leak");
  let srv: Proc;

  beforeAll(async () => {
    const url = redisUrl();
    // "sharded": cluster mode with sharded fan-out (recovery off), its room channels subscribed and unsubscribed.
    const sharded = mode === "sharded";
    const config: RealtimeConfigInput = {
      logging: { level: "warn", pretty: false },
      scale:
        mode === "single"
          ? { mode }
          : {
              mode: "cluster",
              adapter: { type: "redis", url, pubsub: sharded ? "sharded" : "classic" },
              stateStore: { type: "redis", url, prefix },
            },
      presence: { ttlMs: 3000 },
      // Recovery keeps a dropped socket's session for its window, by design: a short one here,
      // waited out before the heap is compared (what the window let go must be freed).
      recovery: sharded ? false : { windowMs: 1000 },
      limits: { connectionsPerIp: 100_000, eventsPerSecond: 100, burst: 100 },
    };
    srv = await startInstance(config, { execArgv: ["--expose-gc"] });
  });
  afterAll(async () => {
    await srv?.kill();
    await deleteKeys(prefix);
  });

  it("returns to its baseline", { timeout: 120_000 }, async () => {
    const redis = testRedis();
    const stats = (): Promise<Stats> => srv.call<Stats>("stats", {}, 30_000);
    const drained = (): Promise<number> => eventually(async () => (await srv.call<number>("sockets")) === 0, 20_000, 50);
    const keyCount = async (pattern: string): Promise<number> => (await redis.keys(`${prefix}${pattern}`)).length;
    const shardChannels = async (): Promise<number> => ((await redis.call("PUBSUB", "SHARDCHANNELS", `${prefix}*`)) as string[]).length;
    const presenceFields = async (): Promise<number> => {
      let n = 0;
      for (const k of await redis.keys(`${prefix}presence:i:*:*`)) if ((await redis.type(k)) === "hash") n += await redis.hlen(k);
      return n;
    };
    try {
      // two warm-up waves (JIT, lazily built parts, pools), then the baseline
      for (const n of [-2, -1]) {
        await wave(srv.url, perWave, n);
        await drained();
      }
      await eventually(async () => (await keyCount("rl:*")) === 0, 10_000, 100);
      const base = await stats();
      const baseKeys = { presence: await keyCount("presence:*"), conn: await keyCount("conn:*"), shardChannels: await shardChannels() };
      expect(base.sockets).toBe(0);

      const started = Date.now();
      let peakRss = 0;
      for (let n = 1; n <= waves; n++) {
        await wave(srv.url, perWave, n);
        peakRss = Math.max(peakRss, (await stats()).rss);
        await drained();
      }
      const wavesMs = Date.now() - started;

      // limiter buckets: every key expires (about its refill time), none is left without a TTL
      const rlKeys = await redis.keys(`${prefix}rl:*`);
      // (-2: expired since KEYS listed it; -1 would be a key without expiry)
      for (const k of rlKeys) expect(await redis.pttl(k)).not.toBe(-1);
      await eventually(async () => (await keyCount("rl:*")) === 0, 10_000, 100);
      await sleep(2100); // recovery's window (1 s) and its sweep (every second)

      const after = await stats();
      const afterKeys = { presence: await keyCount("presence:*"), conn: await keyCount("conn:*"), shardChannels: await shardChannels() };
      const growth = (after.heapUsed - base.heapUsed) / base.heapUsed;
      console.log(
        `[figure] leaks (${mode}): ${waves} waves x ${perWave} sockets in ${wavesMs} ms; heap after GC ${(base.heapUsed / 1e6).toFixed(1)} MB -> ` +
          `${(after.heapUsed / 1e6).toFixed(1)} MB (${(growth * 100).toFixed(1)}%); peak RSS ${(peakRss / 1e6).toFixed(0)} MB; ` +
          `rl keys at the end of the waves ${rlKeys.length} (all expiring)`,
      );
      expect({ ...after, heapUsed: 0, rss: 0 }).toEqual({ ...base, heapUsed: 0, rss: 0 });
      expect(afterKeys).toEqual(baseKeys);
      expect(await presenceFields()).toBe(0);
      expect(Math.abs(growth)).toBeLessThan(0.1);
    } finally {
      redis.disconnect();
    }
  });
});
