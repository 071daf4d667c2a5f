/**
 * Rate limit of a route event (`rateLimit` on an event) or of the global limiter.
 *
 * @example
 * { eventsPerSecond: 5, burst: 10 }            // per socket
 * { eventsPerSecond: 1, burst: 3, scope: "user" } // cluster-wide per user in cluster mode
 */
export interface RateLimitCfg {
  /** Refill rate of the token bucket, in tokens per second. Must be > 0. */
  eventsPerSecond: number;
  /**
   * Capacity of the bucket: how many events may arrive at once.
   * @default eventsPerSecond (rounded up, at least 1)
   */
  burst?: number;
  /**
   * Who shares one bucket. `socket` is decided in process (no network hop, even in cluster
   * mode); `ip` and `user` are cluster-wide in cluster mode. A `user` bucket falls back to
   * the socket for anonymous sockets.
   * @default "socket"
   */
  scope?: RateLimitScope;
}

export type RateLimitScope = "socket" | "ip" | "user";

/** The bucket parameters a backend decides with. */
export interface TokenBucketSpec {
  /** Tokens the bucket holds when full (>= 1). */
  capacity: number;
  /** Tokens added per second (> 0). */
  refillPerSecond: number;
}

/** One rate-limit decision. */
export interface RateLimitDecision {
  allowed: boolean;
  /** Whole tokens left after this decision. */
  remaining: number;
  /** When refused: milliseconds until one token is back. 0 when allowed. */
  retryAfterMs: number;
}

/**
 * Where token buckets live. `@loly-rt/ratelimit` ships an in-process backend and an atomic
 * Redis backend.
 *
 * An implementation MUST:
 * - decide atomically: concurrent `consume` calls on one key, from any number of processes
 *   sharing the backend, never admit more than `capacity` plus what refilled meanwhile;
 * - take time from one clock for every caller of a key (the backend's), so callers with
 *   skewed clocks agree;
 * - bound its own memory: a bucket left alone until full again may be dropped (it reads as
 *   full), and shared backends set an expiry on every key;
 * - return synchronously when it needs no I/O (`local: true`), so the event pipeline stays
 *   synchronous; return a Promise that rejects (never hangs) when its service fails.
 */
export interface RateLimitBackend {
  /** True when `consume` answers synchronously without I/O. */
  readonly local: boolean;
  /** Takes `cost` (default 1) tokens from the bucket `key`. */
  consume(key: string, bucket: TokenBucketSpec, cost?: number): RateLimitDecision | Promise<RateLimitDecision>;
  /** Forgets the bucket `key` (a socket left). */
  reset(key: string): void | Promise<void>;
  /** Frees timers and clients the backend owns. Idempotent. */
  close?(): Promise<void>;
}
