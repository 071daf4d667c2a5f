/**
 * Scenario 6: state store operations, one process per round. `loly` goes through
 * @loly-rt/state-redis' `createRedisStateStore({ redis, prefix })`; `raw` does the same with
 * ioredis alone (JSON values: `SET` of `JSON.stringify`, `GET` + `JSON.parse`, `INCRBY`).
 * Each side has its own client with the same options, the same keys (`keys` distinct ones,
 * cycling) under its own prefix; the two take turns in 100 ms slices (see interleave.ts).
 *
 * Per operation: sequential latency (one at a time, `seqMs` in total per side) and throughput
 * with `inflight` operations in flight (`concMs` per side; ioredis writes each command as it
 * comes, so many in flight share the connection: a pipeline in effect).
 *
 * BENCH_OPTS: { redisUrl, prefix, seqMs, concMs, inflight, keys }
 */
import { Redis } from "ioredis";
import type { JsonValue } from "@loly-rt/core";
import { createRedisStateStore } from "@loly-rt/state-redis";
// @ts-expect-error plain JS helpers (no type declarations)
import { options, report } from "../lib/child.mjs";
import { concurrentSlices, sequentialSlices } from "./interleave.js";

interface Opts {
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

// Each side its own client, same options.
const lolyRedis = new Redis(o.redisUrl);
const rawRedis = new Redis(o.redisUrl);
const store = createRedisStateStore({ redis: lolyRedis, prefix: `${o.prefix}loly:` });
const p = `${o.prefix}raw:`;
const sides: Record<"loly" | "raw", Ops> = {
  loly: {
    set: (k) => store.set(k, value),
    get: (k) => store.get(k),
    incr: (k) => store.incr(`n:${k}`),
  },
  raw: {
    set: (k) => rawRedis.set(p + k, JSON.stringify(value)),
    get: (k) => rawRedis.get(p + k).then((s) => (s === null ? null : (JSON.parse(s) as JsonValue))),
    incr: (k) => rawRedis.incrby(`${p}n:${k}`, 1),
  },
};

const result: Record<string, Record<string, unknown>> = { loly: {}, raw: {} };
// Warm up, and make sure every key `get` reads exists.
for (const k of keys) await Promise.all([sides.loly.set(k), sides.raw.set(k)]);
await concurrentSlices({ loly: sides.loly.get, raw: sides.raw.get }, { totalMs: 200, inflight: o.inflight, keys });
for (const name of ["set", "get", "incr"] as const) {
  const impls = { loly: sides.loly[name], raw: sides.raw[name] };
  const seq = await sequentialSlices(impls, { totalMs: o.seqMs, keys });
  const conc = await concurrentSlices(impls, { totalMs: o.concMs, inflight: o.inflight, keys });
  for (const side of ["loly", "raw"] as const) result[side]![name] = { seq: seq[side], conc: conc[side] };
}
report({ type: "result", sides: result });
lolyRedis.disconnect();
rawRedis.disconnect();
setTimeout(() => process.exit(0), 50);
