import { createHash } from "node:crypto";
import type { RateLimitBackend, RateLimitDecision, TokenBucketSpec } from "@loly-rt/core";
import type { Cluster, Redis } from "ioredis";

/**
 * The token-bucket script of the Redis backend: one key, three arguments (capacity, refill
 * per second, cost); answers `{ allowed (0|1), remaining, retryAfterMs }`.
 *
 * - Time comes from the Redis server (`TIME`), so instances with skewed clocks agree.
 * - The bucket is one string `"<tokens> <ms>"`. An admitted decision writes it with a `PX`
 *   of the time to refill completely plus one second: once expired it reads as full,
 *   which it would be. A refused decision writes nothing (the stored state already
 *   yields the same refill), so a flood of refusals is read-only.
 * - A clock reading older than the stored one (Redis time stepped back) counts as no
 *   elapsed time: no tokens appear and none vanish.
 *
 * Exported so benchmarks can compare the backend with a raw `EVALSHA` of the same script.
 */
export const TOKEN_BUCKET_SCRIPT = `
local capacity = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2]) / 1000
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = time[1] * 1000 + time[2] / 1000
local tokens = capacity
local state = redis.call('GET', KEYS[1])
if state then
  local sp = string.find(state, ' ', 1, true)
  if sp then
    local held = tonumber(string.sub(state, 1, sp - 1))
    local at = tonumber(string.sub(state, sp + 1))
    if held and at then
      local elapsed = now - at
      if elapsed < 0 then elapsed = 0 end
      tokens = held + elapsed * perMs
      if tokens > capacity then tokens = capacity end
    end
  end
end
if tokens + 1e-9 >= cost then
  tokens = tokens - cost
  if tokens < 0 then tokens = 0 end
  redis.call('SET', KEYS[1], string.format('%.17g %.17g', tokens, now), 'PX', math.ceil((capacity - tokens) / perMs) + 1000)
  return {1, math.floor(tokens + 1e-9), 0}
end
return {0, math.floor(tokens + 1e-9), math.ceil((cost - tokens) / perMs - 1e-9)}
`;

/** SHA1 of {@link TOKEN_BUCKET_SCRIPT}, as `EVALSHA` takes it. */
export const TOKEN_BUCKET_SHA = createHash("sha1").update(TOKEN_BUCKET_SCRIPT).digest("hex");

/** Options of {@link createRedisRateLimitBackend}. */
export interface RedisRateLimitOptions {
  /**
   * Your ioredis client (or cluster). The backend never closes it. Give it a
   * `commandTimeout` or wrap the backend in `withStorePolicy` so no decision waits forever.
   */
  redis: Redis | Cluster;
  /**
   * The cluster's key prefix; buckets live under `${prefix}rl:`.
   * @default "loly:"
   */
  prefix?: string;
}

/** The Redis backend: every decision is one network round trip. */
export interface RedisRateLimitBackend extends RateLimitBackend {
  readonly local: false;
  consume(key: string, bucket: TokenBucketSpec, cost?: number): Promise<RateLimitDecision>;
  reset(key: string): Promise<void>;
  close(): Promise<void>;
  /** The prefix every bucket key starts with (`${prefix}rl:`). */
  readonly keyPrefix: string;
}

function toDecision(reply: unknown): RateLimitDecision {
  const r = reply as [number, number, number];
  return { allowed: r[0] === 1, remaining: r[1], retryAfterMs: r[2] };
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith("NOSCRIPT");
}

/**
 * A cluster-wide token-bucket backend over Redis. Each decision is one `EVALSHA` of
 * {@link TOKEN_BUCKET_SCRIPT}: atomic across every process sharing the Redis and prefix,
 * timed by the Redis clock. When Redis has not seen the script yet (fresh or restarted
 * server, `SCRIPT FLUSH`), that one decision falls back to `EVAL`, which also caches it.
 * Every key carries an expiry of about its time to refill; `reset(key)` deletes it.
 *
 * The promise of a decision rejects when Redis fails; wrap the backend in
 * `withStorePolicy` to turn failures and slow answers into a declared allow/deny.
 *
 * @example
 * const limiter = createRedisRateLimitBackend({ redis: new Redis(url), prefix: "chat:" });
 * const d = await limiter.consume(`user:${userId}`, { capacity: 3, refillPerSecond: 1 });
 */
export function createRedisRateLimitBackend(options: RedisRateLimitOptions): RedisRateLimitBackend {
  const redis = options.redis as Redis;
  const keyPrefix = `${options.prefix ?? "loly:"}rl:`;

  return {
    local: false,
    keyPrefix,

    consume(key: string, spec: TokenBucketSpec, cost = 1): Promise<RateLimitDecision> {
      const fullKey = keyPrefix + key;
      const capacity = spec.capacity;
      const rate = spec.refillPerSecond;
      return redis.evalsha(TOKEN_BUCKET_SHA, 1, fullKey, capacity, rate, cost).then(toDecision, (err: unknown) => {
        if (!isNoScript(err)) throw err;
        return redis.eval(TOKEN_BUCKET_SCRIPT, 1, fullKey, capacity, rate, cost).then(toDecision);
      });
    },

    async reset(key: string): Promise<void> {
      await redis.del(keyPrefix + key);
    },

    async close(): Promise<void> {
      // The client is the caller's: nothing of ours to free.
    },
  };
}
