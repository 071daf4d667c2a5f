// Token bucket
export { TokenBucket, bucketSpec, monotonicNow } from "./bucket.js";

// Backends
export { createMemoryRateLimitBackend } from "./memory.js";
export type { MemoryRateLimitBackend, MemoryRateLimitOptions } from "./memory.js";
export { createRedisRateLimitBackend, TOKEN_BUCKET_SCRIPT, TOKEN_BUCKET_SHA } from "./redis.js";
export type { RedisRateLimitBackend, RedisRateLimitOptions } from "./redis.js";

// Store-error policy
export { withStorePolicy } from "./policy.js";
export type { StorePolicyOptions, StorePolicyBackend } from "./policy.js";
