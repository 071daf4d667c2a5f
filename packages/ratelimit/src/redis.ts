import type { RateLimitBackend, RateLimitDecision, TokenBucketSpec } from "@loly-rt/core";
import { DEFAULT_KEY_PREFIX, evalOnNoScript, luaScript, type RedisClientLike, type RunScriptOptions } from "@loly-rt/core/redis";

/**
 * The token-bucket script of the Redis backend: one key, three arguments (capacity, refill
 * per second, cost). An admitted decision answers one integer, the tokens left; a refused one
 * answers `{ remaining, retryAfterMs }`. (One integer is the cheapest reply for Redis and for
 * the client to parse: on the hot path it is measurably faster than a three-element array.)
 *
 * - The bucket is kept in its GCRA form: one number, the time (ms) at which it will be full
 *   again ("theoretical arrival time"). Tokens held at `now` are
 *   `capacity - (tat - now) / msPerToken`: exactly a token bucket, with one stored number
 *   and no parsing.
 * - Time comes from the Redis server (`TIME`), so instances with skewed clocks agree.
 * - Expiry: the key expires at a point of a 5-second grid, 5 to 10 s after the bucket is full
 *   again (once expired it reads as full, which it would be). The expiry is a pure function of
 *   the stored time, so a write whose new time falls in the same grid cell keeps the expiry
 *   (`KEEPTTL`) and only a change of cell rewrites it (`PXAT`): setting an expiry is the
 *   costliest part of a `SET`, and this way a busy bucket pays it about once every 5 s.
 * - A refused decision writes nothing, so a flood of refusals is read-only.
 * - A stored time in the future beyond the burst (Redis time stepped back) cannot admit more
 *   than the bucket holds: it only delays refill.
 *
 * Exported so benchmarks can compare the backend with a raw `EVALSHA` of the same script.
 */
export const TOKEN_BUCKET_SCRIPT = `
local capacity = tonumber(ARGV[1])
local msPerToken = 1000 / tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = time[1] * 1000 + time[2] / 1000
local stored = tonumber(redis.call('GET', KEYS[1]))
local tat = stored or now
if tat < now then tat = now end
local burst = capacity * msPerToken
local after = tat + cost * msPerToken
if after - burst <= now + 1e-6 then
  local expireAt = (math.floor(after / 5000) + 2) * 5000
  if stored and (math.floor(stored / 5000) + 2) * 5000 == expireAt then
    redis.call('SET', KEYS[1], after, 'KEEPTTL')
  else
    redis.call('SET', KEYS[1], after, 'PXAT', expireAt)
  end
  return math.max(0, math.floor((burst - (after - now)) / msPerToken + 1e-9))
end
return {math.max(0, math.floor((burst - (tat - now)) / msPerToken + 1e-9)), math.ceil(after - burst - now - 1e-9)}
`;

const tokenBucket = luaScript(TOKEN_BUCKET_SCRIPT, 1);

/** SHA1 of {@link TOKEN_BUCKET_SCRIPT}, as `EVALSHA` takes it. */
export const TOKEN_BUCKET_SHA = tokenBucket.sha;

/** Options of {@link createRedisRateLimitBackend}. */
export interface RedisRateLimitOptions {
  /**
   * Your ioredis client or cluster (or any client of that shape). The backend never closes it.
   * Give it a `commandTimeout` or wrap the backend in `withStorePolicy` so no decision waits
   * forever.
   */
  redis: RedisClientLike;
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
  /** The prefix every bucket key starts with (`${prefix}rl:`), after the client's ioredis `keyPrefix` if any. */
  readonly keyPrefix: string;
}

/**
 * An integer reply is an admitted decision (the tokens left); `[remaining, retryAfterMs]` a
 * refusal. `Number()` because a client created with `stringNumbers: true` answers integers as
 * strings.
 */
function toDecision(reply: unknown): RateLimitDecision {
  if (!Array.isArray(reply)) return { allowed: true, remaining: Number(reply), retryAfterMs: 0 };
  return { allowed: false, remaining: Number(reply[0]), retryAfterMs: Number(reply[1]) };
}

/** The fallback parses its reply like the EVALSHA does (one constant: nothing allocated per call). */
const decide: RunScriptOptions<RateLimitDecision> = { parse: toDecision };

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
  const redis = options.redis;
  const keyPrefix = `${options.prefix ?? DEFAULT_KEY_PREFIX}rl:`;

  return {
    local: false,
    keyPrefix,

    consume(key: string, spec: TokenBucketSpec, cost = 1): Promise<RateLimitDecision> {
      const fullKey = keyPrefix + key;
      const capacity = spec.capacity;
      const rate = spec.refillPerSecond;
      // EVALSHA sent here with spread arguments, not through runScript: the hot path builds no
      // arguments array; only the rare NOSCRIPT fallback does.
      return redis
        .evalsha(TOKEN_BUCKET_SHA, 1, fullKey, capacity, rate, cost)
        .then(toDecision, (err: unknown) => evalOnNoScript(err, redis, tokenBucket, [fullKey, capacity, rate, cost], decide));
    },

    async reset(key: string): Promise<void> {
      await redis.del(keyPrefix + key);
    },

    async close(): Promise<void> {
      // The client is the caller's: nothing of ours to free.
    },
  };
}
