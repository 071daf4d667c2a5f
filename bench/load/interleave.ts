/**
 * Interleaved measurement of several implementations of one operation inside one process:
 * short slices, taking turns in a rotating order, so that whatever else the machine does
 * (and how fast the CPUs wake up) falls on every implementation alike.
 */
// @ts-expect-error plain JS helpers (no type declarations)
import { Recorder } from "../lib/stats.mjs";

/** One operation of an implementation; the key varies per call. */
export type Op = (key: string) => unknown;

/** A latency summary, as `Recorder.summary()` returns it. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface SliceOptions {
  /** Total measuring time per implementation (ms). */
  totalMs: number;
  /** Length of one slice (ms). @default 100 */
  sliceMs?: number;
  /** Keys to cycle over. */
  keys: string[];
}

/** Rotates `names` by `i` (slice i starts with a different implementation each time). */
function rotation(names: string[], i: number): string[] {
  const k = i % names.length;
  return [...names.slice(k), ...names.slice(0, k)];
}

/** Sequential: one call at a time; per implementation, ops/s and the latency of each call. */
export async function sequentialSlices(
  impls: Record<string, Op>,
  o: SliceOptions,
): Promise<Record<string, { opsPerSec: number; latencyUs: LatencySummary }>> {
  const names = Object.keys(impls);
  const sliceMs = o.sliceMs ?? 100;
  const slices = Math.max(1, Math.round(o.totalMs / sliceMs));
  const acc = Object.fromEntries(names.map((n) => [n, { ops: 0, ms: 0, lat: new Recorder(1 << 16) }]));
  let i = 0;
  for (let s = 0; s < slices; s++) {
    for (const name of rotation(names, s)) {
      const op = impls[name]!;
      const a = acc[name]!;
      const t0 = performance.now();
      const end = t0 + sliceMs;
      let now = t0;
      while (now < end) {
        const before = now;
        const r = op(o.keys[i++ % o.keys.length]!);
        if (r instanceof Promise) await r;
        now = performance.now();
        a.lat.add((now - before) * 1000);
        a.ops++;
      }
      a.ms += now - t0;
    }
  }
  return Object.fromEntries(names.map((n) => [n, { opsPerSec: acc[n]!.ops / (acc[n]!.ms / 1000), latencyUs: acc[n]!.lat.summary() }]));
}

/** `inflight` concurrent loops per slice; per implementation, completed ops per second. */
export async function concurrentSlices(
  impls: Record<string, Op>,
  o: SliceOptions & { inflight: number },
): Promise<Record<string, { opsPerSec: number }>> {
  const names = Object.keys(impls);
  const sliceMs = o.sliceMs ?? 100;
  const slices = Math.max(1, Math.round(o.totalMs / sliceMs));
  const acc = Object.fromEntries(names.map((n) => [n, { ops: 0, ms: 0 }]));
  let i = 0;
  for (let s = 0; s < slices; s++) {
    for (const name of rotation(names, s)) {
      const op = impls[name]!;
      const t0 = performance.now();
      const end = t0 + sliceMs;
      let ops = 0;
      const loop = async (): Promise<void> => {
        while (performance.now() < end) {
          await op(o.keys[i++ % o.keys.length]!);
          ops++;
        }
      };
      await Promise.all(Array.from({ length: o.inflight }, loop));
      acc[name]!.ops += ops;
      acc[name]!.ms += performance.now() - t0;
    }
  }
  return Object.fromEntries(names.map((n) => [n, { opsPerSec: acc[n]!.ops / (acc[n]!.ms / 1000) }]));
}

/** Synchronous calls in batches of 256 per clock reading; per implementation, calls/s. */
export function syncSlices(impls: Record<string, Op>, o: SliceOptions): Record<string, { opsPerSec: number; sync: boolean }> {
  const names = Object.keys(impls);
  const sliceMs = o.sliceMs ?? 100;
  const slices = Math.max(1, Math.round(o.totalMs / sliceMs));
  const acc = Object.fromEntries(names.map((n) => [n, { ops: 0, ms: 0, sync: true }]));
  let i = 0;
  for (let s = 0; s < slices; s++) {
    for (const name of rotation(names, s)) {
      const op = impls[name]!;
      const a = acc[name]!;
      const t0 = performance.now();
      const end = t0 + sliceMs;
      let now = t0;
      while (now < end) {
        for (let k = 0; k < 256; k++) {
          if (op(o.keys[i++ % o.keys.length]!) instanceof Promise) a.sync = false;
        }
        a.ops += 256;
        now = performance.now();
      }
      a.ms += now - t0;
    }
  }
  return Object.fromEntries(names.map((n) => [n, { opsPerSec: acc[n]!.ops / (acc[n]!.ms / 1000), sync: acc[n]!.sync }]));
}
