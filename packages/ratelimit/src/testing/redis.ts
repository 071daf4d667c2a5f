/** Test helpers of the ratelimit suites (the test Redis itself is set up in tests/setup). */
import type { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { deleteKeys, testPrefix, testRedis } from "../../../../tests/setup/redis.js";

/** The test Redis as one suite sees it: a key prefix of its own and a client. */
export interface SuiteRedis {
  /** Unique to this run and suite; every key the suite writes goes under it. */
  readonly prefix: string;
  /** A client to the test Redis, opened in `beforeAll` (so read it in a test or a later hook). */
  readonly redis: Redis;
}

/**
 * Registers in the enclosing suite a client opened before its tests and, after them, the
 * deletion of every key under the suite's prefix and the client's disconnect.
 */
export function useSuiteRedis(suite: string): SuiteRedis {
  const prefix = testPrefix(suite);
  let redis: Redis | undefined;
  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(async () => {
    await deleteKeys(prefix, redis);
    redis?.disconnect();
  });
  return {
    prefix,
    get redis(): Redis {
      if (redis === undefined) throw new Error(`useSuiteRedis("${suite}"): the client opens in beforeAll; read it in a test`);
      return redis;
    },
  };
}
