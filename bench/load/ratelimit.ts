/**
 * Scenario 5: rate-limit decisions, one process per round. Buckets that never refuse (so every
 * decision takes the same path everywhere), keys cycling over `keys` distinct buckets.
 *
 * In process:
 * - `loly-memory`: @loly-rt/ratelimit's in-process backend, called synchronously;
 * - `rlf-memory`: rate-limiter-flexible's RateLimiterMemory (awaited; reference only).
 * Over Redis, interleaved in 100 ms slices (see interleave.ts), each with its own ioredis client:
 * - `loly-redis`: @loly-rt/ratelimit's Redis backend (one EVALSHA per decision);
 * - `raw-evalsha`: ioredis `evalsha` of the very same script, no wrapper;
 * - `rlf-redis`: rate-limiter-flexible's RateLimiterRedis.
 * Redis implementations: sequential latency (one decision at a time), throughput with
 * `inflight` decisions in flight, and the Redis server's own CPU per decision (`INFO
 * commandstats`, the `usec` of `evalsha` over sequential decisions of one implementation at a
 * time: every implementation here is one `EVALSHA`).
 *
 * BENCH_OPTS: { redisUrl, prefix, seqMs, concMs, inflight, keys }
 */
import { Redis } from "ioredis";
import { createMemoryRateLimitBackend, createRedisRateLimitBackend, TOKEN_BUCKET_SCRIPT } from "@loly-rt/ratelimit";
import { RateLimiterMemory, RateLimiterRedis } from "rate-limiter-flexible";
// @ts-expect-error plain JS helpers (no type declarations)
import { options, report } from "../lib/child.mjs";
import { concurrentSlices, sequentialSlices, syncSlices, type Op } from "./interleave.js";

interface Opts {
  redisUrl: string;
  prefix: string;
  seqMs: number;
  concMs: number;
  inflight: number;
  keys: number;
}

const o = options() as Opts;
const NEVER = 1_000_000_000;
const spec = { capacity: NEVER, refillPerSecond: NEVER };
const keys = Array.from({ length: o.keys }, (_, i) => `bucket-${i}`);

// In process.
const memory = createMemoryRateLimitBackend();
const rlfMemory = new RateLimiterMemory({ points: NEVER, duration: 60 });
const lolyMemory: Op = (k) => memory.consume(k, spec);
syncSlices({ "loly-memory": lolyMemory }, { totalMs: 200, keys });
const memSync = syncSlices({ "loly-memory": lolyMemory }, { totalMs: o.seqMs, keys });
await sequentialSlices({ "rlf-memory": (k) => rlfMemory.consume(k) }, { totalMs: 200, keys });
const memRlf = await sequentialSlices({ "rlf-memory": (k) => rlfMemory.consume(k) }, { totalMs: o.seqMs, keys });
await memory.close?.();

// Over Redis.
const clients = [new Redis(o.redisUrl), new Redis(o.redisUrl), new Redis(o.redisUrl)] as const;
const backend = createRedisRateLimitBackend({ redis: clients[0], prefix: o.prefix });
const sha = (await clients[1].script("LOAD", TOKEN_BUCKET_SCRIPT)) as string;
const rawPrefix = `${o.prefix}raw:`;
const rlf = new RateLimiterRedis({ storeClient: clients[2], points: NEVER, duration: 60, keyPrefix: `${o.prefix}rlf` });
const impls: Record<string, Op> = {
  "loly-redis": (k) => backend.consume(k, spec),
  "raw-evalsha": (k) => clients[1].evalsha(sha, 1, rawPrefix + k, NEVER, NEVER, 1),
  "rlf-redis": (k) => rlf.consume(k),
};
// Warm up: script caches, JIT, connections.
await concurrentSlices(impls, { totalMs: 200, inflight: o.inflight, keys });
const seq = await sequentialSlices(impls, { totalMs: o.seqMs, keys });
const conc = await concurrentSlices(impls, { totalMs: o.concMs, inflight: o.inflight, keys });

// Redis CPU per decision: chunks of 500 sequential decisions per implementation, taking turns.
// Nothing else calls EVALSHA on this Redis while the bench runs.
const evalshaStats = async (): Promise<{ calls: number; usec: number }> => {
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec((await clients[1].info("commandstats")) as string);
  return { calls: Number(m?.[1] ?? 0), usec: Number(m?.[2] ?? 0) };
};
const cpu = Object.fromEntries(Object.keys(impls).map((n) => [n, { calls: 0, usec: 0 }]));
for (let chunk = 0, i = 0; chunk < 6; chunk++) {
  for (const name of Object.keys(impls)) {
    const before = await evalshaStats();
    for (let k = 0; k < 500; k++) await impls[name]!(keys[i++ % keys.length]!);
    const after = await evalshaStats();
    cpu[name]!.calls += after.calls - before.calls;
    cpu[name]!.usec += after.usec - before.usec;
  }
}

const result: Record<string, unknown> = {
  "loly-memory": { memory: memSync["loly-memory"], local: memory.local },
  "rlf-memory": { memory: memRlf["rlf-memory"] },
};
for (const name of Object.keys(impls)) {
  const c = cpu[name]!;
  // 3000 decisions must show as 3000 EVALSHA calls, or the figure is not one call's cost.
  result[name] = { seq: seq[name], conc: conc[name], redisUsPerCall: c.calls === 3000 ? c.usec / c.calls : null };
}
report({ type: "result", modes: result });
for (const c of clients) c.disconnect();
setTimeout(() => process.exit(0), 50);
