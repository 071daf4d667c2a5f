import type { RateLimitBackend, RateLimitDecision, TokenBucketSpec } from "@loly-rt/core";
import { TokenBucket, monotonicNow } from "./bucket.js";

/** Options of {@link createMemoryRateLimitBackend}. */
export interface MemoryRateLimitOptions {
  /**
   * How often buckets that are full again are dropped (a full bucket and a missing one
   * read the same). The sweep timer is unref'd and runs only while buckets exist.
   * @default 10000
   */
  sweepIntervalMs?: number;
  /**
   * The clock, in milliseconds. Must be monotonic.
   * @default performance.now
   */
  now?: () => number;
}

/** The in-process backend: synchronous decisions, plus a view on its memory. */
export interface MemoryRateLimitBackend extends RateLimitBackend {
  readonly local: true;
  consume(key: string, bucket: TokenBucketSpec, cost?: number): RateLimitDecision;
  reset(key: string): void;
  close(): Promise<void>;
  /** Buckets held right now. */
  readonly size: number;
  /** Drops every bucket that is full again; returns how many were dropped. */
  sweep(): number;
}

/**
 * An in-process token-bucket backend: `consume` answers synchronously with no I/O, from a
 * monotonic clock. Memory stays bounded: `reset(key)` forgets a bucket at once, and an
 * unref'd sweep drops buckets that have refilled completely (they read as full anyway).
 *
 * Decisions are local to this process: use it for one instance, or for per-socket limits
 * in a cluster. For a hot path with one bucket per socket, keep a {@link TokenBucket} on
 * the socket instead (no map lookup).
 *
 * @example
 * const limiter = createMemoryRateLimitBackend();
 * const d = limiter.consume(`ip:${ip}`, { capacity: 10, refillPerSecond: 5 });
 * if (!d.allowed) refuse(d.retryAfterMs);
 */
export function createMemoryRateLimitBackend(options: MemoryRateLimitOptions = {}): MemoryRateLimitBackend {
  const sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
  if (!(sweepIntervalMs > 0)) {
    throw new RangeError(`sweepIntervalMs must be > 0, got ${String(sweepIntervalMs)}`);
  }
  const now = options.now ?? monotonicNow;
  const buckets = new Map<string, TokenBucket>();
  let timer: ReturnType<typeof setInterval> | undefined;

  const stopTimer = (): void => {
    if (timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  const sweep = (): number => {
    const t = now();
    let dropped = 0;
    for (const [key, bucket] of buckets) {
      if (bucket.isFull(t)) {
        buckets.delete(key);
        dropped++;
      }
    }
    if (buckets.size === 0) stopTimer();
    return dropped;
  };

  return {
    local: true,

    consume(key: string, spec: TokenBucketSpec, cost = 1): RateLimitDecision {
      const t = now();
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        bucket = new TokenBucket(spec, t);
        buckets.set(key, bucket);
        if (timer === undefined) {
          timer = setInterval(sweep, sweepIntervalMs);
          timer.unref?.();
        }
      } else if (bucket.capacity !== spec.capacity || bucket.refillPerSecond !== spec.refillPerSecond) {
        bucket.respec(spec, t);
      }
      return bucket.decide(cost, t);
    },

    reset(key: string): void {
      buckets.delete(key);
      if (buckets.size === 0) stopTimer();
    },

    async close(): Promise<void> {
      stopTimer();
      buckets.clear();
    },

    get size(): number {
      return buckets.size;
    },

    sweep,
  };
}
