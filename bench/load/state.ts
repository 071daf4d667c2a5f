/**
 * Scenario 6: state store operations. `loly` goes through @loly-rt/state-redis'
 * `createRedisStateStore({ redis, prefix })`; `raw` does the same with ioredis alone (JSON
 * values: `SET` of `JSON.stringify`, `GET` + `JSON.parse`, `INCRBY`). Same client options,
 * same keys (`keys` distinct ones, cycling), each side under its own prefix.
 *
 * Per operation: sequential latency (one at a time for `seqMs`) and throughput with
 * `inflight` operations in flight for `concMs` (ioredis writes each command as it comes,
 * so many in flight share the connection: a pipeline in effect).
 *
 * BENCH_OPTS: { mode: "loly" | "raw", redisUrl, prefix, seqMs, concMs, inflight, keys }
 */
import { Redis } from "ioredis";
import type { JsonValue } from "@loly-rt/core";
import { createRedisStateStore } from "@loly-rt/state-redis";
// @ts-expect-error plain JS helpers (no type declarations)
import { options, report } from "../lib/child.mjs";
// @ts-expect-error plain JS helpers (no type declarations)
import { Recorder } from "../lib/stats.mjs";

interface Opts {
  mode: "loly" | "raw";
  redisUrl: string;
  prefix: string;
  seqMs: number;
  concMs: number;
  inflight: number;
  keys: number;
}

const o = options() as Opts;
const keys = Array.from({ length: o.keys }, (_, i) => `key-${i}`);
const value: JsonValue = { user: "user-42", text: "a state value of a realistic size", n: 42, tags: ["a", "b"] };

interface Ops {
  set(k: string): Promise<unknown>;
  get(k: string): Promise<unknown>;
  incr(k: string): Promise<unknown>;
}

const redis = new Redis(o.redisUrl);
let ops: Ops;
if (o.mode === "loly") {
  const store = createRedisStateStore({ redis, prefix: `${o.prefix}loly:` });
  ops = {
    set: (k) => store.set(k, value),
    get: (k) => store.get(k),
    incr: (k) => store.incr(`n:${k}`),
  };
} else {
  const p = `${o.prefix}raw:`;
  ops = {
    set: (k) => redis.set(p + k, JSON.stringify(value)),
    get: (k) => redis.get(p + k).then((s) => (s === null ? null : (JSON.parse(s) as JsonValue))),
    incr: (k) => redis.incrby(`${p}n:${k}`, 1),
  };
}

async function sequential(op: (k: string) => Promise<unknown>, ms: number): Promise<{ opsPerSec: number; latencyUs: unknown }> {
  const lat = new Recorder(1 << 18);
  let i = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  let now = t0;
  while (now < end) {
    const a = now;
    await op(keys[i++ % keys.length]!);
    now = performance.now();
    lat.add((now - a) * 1000);
  }
  return { opsPerSec: i / ((now - t0) / 1000), latencyUs: lat.summary() };
}

async function concurrent(op: (k: string) => Promise<unknown>, ms: number): Promise<{ opsPerSec: number }> {
  let i = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) await op(keys[i++ % keys.length]!);
  };
  await Promise.all(Array.from({ length: o.inflight }, loop));
  return { opsPerSec: i / ((performance.now() - t0) / 1000) };
}

const result: Record<string, unknown> = {};
// Warm up and make sure every key `get` reads exists.
for (const k of keys) await ops.set(k);
await concurrent(ops.get, 200);
for (const name of ["set", "get", "incr"] as const) {
  result[name] = { seq: await sequential(ops[name], o.seqMs), conc: await concurrent(ops[name], o.concMs) };
}
report({ type: "result", ...result });
redis.disconnect();
setTimeout(() => process.exit(0), 50);
