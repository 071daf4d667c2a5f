/**
 * Redis helpers for test suites. Never FLUSHALL/FLUSHDB: each suite takes its own prefix
 * from `testPrefix()` and removes its keys with `deleteKeys()` after.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";

/** The Redis URL the global setup made sure answers; throws a how-to message otherwise. */
export function redisUrl(): string {
  const missing = process.env.LOLY_REDIS_MISSING;
  if (missing) throw new Error(missing);
  return process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
}

/** A key prefix unique to this test run and suite, e.g. `loly-test:a1b2c3:presence:`. */
export function testPrefix(suite: string): string {
  return `loly-test:${randomBytes(4).toString("hex")}:${suite}:`;
}

/** A new ioredis client to the test Redis (close it after). */
export function testRedis(): Redis {
  return new Redis(redisUrl(), { lazyConnect: false, maxRetriesPerRequest: 1 });
}

/** Deletes every key under `prefix` (SCAN + UNLINK). Resolves the number removed. */
export async function deleteKeys(prefix: string, client?: Redis): Promise<number> {
  const redis = client ?? testRedis();
  let removed = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) removed += await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    if (!client) redis.disconnect();
  }
  return removed;
}
