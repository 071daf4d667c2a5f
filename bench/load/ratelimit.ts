/**
 * Scenario 5: rate-limit decisions. One implementation per process (`mode`), buckets that
 * never refuse (so every decision takes the same path everywhere), keys cycling over
 * `keys` distinct buckets.
 *
 * - `loly-memory`: @loly-rt/ratelimit's in-process backend, called synchronously;
 * - `rlf-memory`: rate-limiter-flexible's RateLimiterMemory (awaited; reference only);
 * - `loly-redis`: @loly-rt/ratelimit's Redis backend (one EVALSHA per decision);
 * - `raw-evalsha`: ioredis `evalsha` of the very same script, no wrapper;
 * - `rlf-redis`: rate-limiter-flexible's RateLimiterRedis over the same ioredis client.
 *
 * Redis modes measure sequential latency (one decision at a time) and throughput with
 * `inflight` decisions in flight; memory modes measure decisions per second.
 *
 * BENCH_OPTS: { mode, redisUrl, prefix, seqMs, concMs, inflight, keys }
 */
import { Redis } from "ioredis";
import { createMemoryRateLimitBackend, createRedisRateLimitBackend, TOKEN_BUCKET_SCRIPT } from "@loly-rt/ratelimit";
import { RateLimiterMemory, RateLimiterRedis } from "rate-limiter-flexible";
// @ts-expect-error plain JS helpers (no type declarations)
import { options, report } from "../lib/child.mjs";
// @ts-expect-error plain JS helpers (no type declarations)
import { Recorder } from "../lib/stats.mjs";

interface Opts {
  mode: "loly-memory" | "rlf-memory" | "loly-redis" | "raw-evalsha" | "rlf-redis";
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

type Decide = (key: string) => Promise<unknown>;

/** Sequential: one decision at a time for `ms`; latency of each. */
async function sequential(decide: Decide, ms: number): Promise<{ ops: number; opsPerSec: number; latencyUs: unknown }> {
  const lat = new Recorder(1 << 18);
  let i = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  let now = t0;
  while (now < end) {
    const a = now;
    await decide(keys[i++ % keys.length]!);
    now = performance.now();
    lat.add((now - a) * 1000);
  }
  return { ops: i, opsPerSec: i / ((now - t0) / 1000), latencyUs: lat.summary() };
}

/** `inflight` concurrent loops for `ms`: decisions per second. */
async function concurrent(decide: Decide, ms: number, inflight: number): Promise<{ ops: number; opsPerSec: number }> {
  let i = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) await decide(keys[i++ % keys.length]!);
  };
  await Promise.all(Array.from({ length: inflight }, loop));
  return { ops: i, opsPerSec: i / ((performance.now() - t0) / 1000) };
}

/** Synchronous decisions for `ms`, checking the clock every 1024. */
function syncLoop(decide: (key: string) => unknown, ms: number): { ops: number; opsPerSec: number; sync: boolean } {
  let i = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  let sync = true;
  let now = t0;
  while (now < end) {
    for (let k = 0; k < 1024; k++) {
      const d = decide(keys[i++ % keys.length]!);
      if (d instanceof Promise) sync = false;
    }
    now = performance.now();
  }
  return { ops: i, opsPerSec: i / ((now - t0) / 1000), sync };
}

const redis = o.mode.endsWith("redis") || o.mode === "raw-evalsha" ? new Redis(o.redisUrl) : null;
let result: Record<string, unknown>;

if (o.mode === "loly-memory") {
  const backend = createMemoryRateLimitBackend();
  syncLoop((k) => backend.consume(k, spec), 200);
  result = { memory: syncLoop((k) => backend.consume(k, spec), o.seqMs), local: backend.local };
  await backend.close?.();
} else if (o.mode === "rlf-memory") {
  const rl = new RateLimiterMemory({ points: NEVER, duration: 60 });
  const decide: Decide = (k) => rl.consume(k);
  await concurrent(decide, 200, 1);
  result = { memory: await concurrent(decide, o.seqMs, 1) };
} else {
  let decide: Decide;
  if (o.mode === "loly-redis") {
    const backend = createRedisRateLimitBackend({ redis: redis!, prefix: o.prefix });
    decide = (k) => backend.consume(k, spec);
  } else if (o.mode === "raw-evalsha") {
    const sha = (await redis!.script("LOAD", TOKEN_BUCKET_SCRIPT)) as string;
    const prefix = `${o.prefix}raw:`;
    decide = (k) => redis!.evalsha(sha, 1, prefix + k, NEVER, NEVER, 1);
  } else {
    const rl = new RateLimiterRedis({ storeClient: redis, points: NEVER, duration: 60, keyPrefix: `${o.prefix}rlf` });
    decide = (k) => rl.consume(k);
  }
  // Warm up: script cache, JIT, connection.
  await concurrent(decide, 300, o.inflight);
  result = { seq: await sequential(decide, o.seqMs), conc: await concurrent(decide, o.concMs, o.inflight) };
}

report({ type: "result", ...result });
redis?.disconnect();
setTimeout(() => process.exit(0), 50);
