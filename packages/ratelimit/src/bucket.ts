import type { RateLimitCfg, RateLimitDecision, TokenBucketSpec } from "@loly-rt/core";
import { RATE_LIMIT_BOUNDS, rateLimitProblems } from "@loly-rt/core/internal";

/**
 * Float slack when comparing tokens with a cost, so that waiting exactly `retryAfterMs`
 * always admits even when `rate * ms` rounds a hair below the cost.
 */
const EPSILON = 1e-9;

/**
 * The bucket parameters of a rate-limit config: capacity is `burst`, or `eventsPerSecond`
 * rounded up (at least 1); the refill is `eventsPerSecond`.
 *
 * @example
 * bucketSpec({ eventsPerSecond: 5, burst: 10 }); // { capacity: 10, refillPerSecond: 5 }
 * bucketSpec({ eventsPerSecond: 0.5 });          // { capacity: 1, refillPerSecond: 0.5 }
 */
export function bucketSpec(cfg: RateLimitCfg): TokenBucketSpec {
  const rate = cfg.eventsPerSecond;
  const burst = cfg.burst;
  // A bucket has a rate and a capacity; who shares it (`scope`) is not its business.
  for (const { key, value } of rateLimitProblems({ eventsPerSecond: rate, burst })) {
    if (key !== "scope") throw new RangeError(`rateLimit.${key} must be a finite number ${RATE_LIMIT_BOUNDS[key]}, got ${String(value)}`);
  }
  return { capacity: burst ?? Math.max(1, Math.ceil(rate)), refillPerSecond: rate };
}

/**
 * Milliseconds of a monotonic clock (`performance.now()`): immune to wall-clock jumps,
 * meaningful only within one process.
 */
export function monotonicNow(): number {
  return performance.now();
}

/**
 * One token bucket, decided in process with no allocation. The server keeps one on each
 * socket for per-socket limits (no map lookup, no network); the memory backend stores one
 * per key.
 *
 * Starts full. Refills lazily, `refillPerSecond` tokens per second, up to `capacity`.
 * Time is in milliseconds of {@link monotonicNow} unless the caller passes its own `now`
 * consistently.
 *
 * @example
 * const bucket = new TokenBucket({ capacity: 10, refillPerSecond: 5 });
 * if (!bucket.take()) refuse({ retryAfterMs: bucket.retryAfterMs() });
 */
export class TokenBucket {
  private cap: number;
  private perSecond: number;
  private perMs: number;
  /** Tokens held at `updatedAt` (fractional). */
  private tokens: number;
  /** Clock reading of the last refill, in milliseconds. */
  private updatedAt: number;

  constructor(spec: TokenBucketSpec, now: number = monotonicNow()) {
    this.cap = spec.capacity;
    this.perSecond = spec.refillPerSecond;
    this.perMs = spec.refillPerSecond / 1000;
    this.tokens = spec.capacity;
    this.updatedAt = now;
  }

  /**
   * Refills up to `now`, then takes `cost` tokens if the bucket holds them. A cost above
   * the capacity is never admitted.
   *
   * @param cost tokens to take (default 1)
   * @param now clock reading in ms (default {@link monotonicNow})
   * @returns true when admitted (the tokens are taken), false when refused (nothing taken).
   */
  take(cost = 1, now: number = monotonicNow()): boolean {
    this.refill(now);
    if (this.tokens + EPSILON >= cost) {
      this.tokens = this.tokens > cost ? this.tokens - cost : 0;
      return true;
    }
    return false;
  }

  /**
   * Milliseconds until `cost` tokens are back, as of the last `take` (rounded up; 0 when
   * they are there already). With the default cost this is the wait until one token.
   *
   * @param cost tokens wanted (default 1)
   */
  retryAfterMs(cost = 1): number {
    const missing = cost - this.tokens;
    // The slack keeps float noise ((1 - 0.998) / 0.002 = 1.0000000000000009) from adding a ms.
    return missing > EPSILON ? Math.ceil(missing / this.perMs - EPSILON) : 0;
  }

  /** Tokens the bucket holds when full. */
  get capacity(): number {
    return this.cap;
  }

  /** Tokens added per second. */
  get refillPerSecond(): number {
    return this.perSecond;
  }

  /** Whole tokens left as of the last `take`. */
  get remaining(): number {
    return Math.floor(this.tokens + EPSILON);
  }

  /** True when the bucket is full again at `now` (so forgetting it changes nothing). */
  isFull(now: number = monotonicNow()): boolean {
    return this.tokens + (now - this.updatedAt) * this.perMs >= this.cap;
  }

  /** Changes the parameters in place, keeping the tokens held (capped to the new capacity). */
  respec(spec: TokenBucketSpec, now: number = monotonicNow()): void {
    this.refill(now);
    this.cap = spec.capacity;
    this.perSecond = spec.refillPerSecond;
    this.perMs = spec.refillPerSecond / 1000;
    if (this.tokens > this.cap) this.tokens = this.cap;
  }

  /**
   * Takes `cost` tokens and answers with a decision object (the one allocation of a
   * decision); `take` is the allocation-free form.
   *
   * @param cost tokens to take (default 1)
   * @param now clock reading in ms (default {@link monotonicNow})
   */
  decide(cost = 1, now: number = monotonicNow()): RateLimitDecision {
    const allowed = this.take(cost, now);
    return { allowed, remaining: this.remaining, retryAfterMs: allowed ? 0 : this.retryAfterMs(cost) };
  }

  private refill(now: number): void {
    const elapsed = now - this.updatedAt;
    // A clock reading from the past (another caller's `now`) adds nothing and does not rewind.
    if (elapsed <= 0) return;
    this.updatedAt = now;
    if (this.tokens >= this.cap) return;
    const tokens = this.tokens + elapsed * this.perMs;
    this.tokens = Math.min(tokens, this.cap);
  }
}
