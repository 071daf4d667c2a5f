import { Redis } from "ioredis";
import { afterAll } from "vitest";
import { describeStoreConformance } from "@loly-rt/core/testing";
import { deleteKeys, redisUrl, testPrefix } from "../../../tests/setup/redis.js";
import { createRedisStateStore } from "./index.js";

const prefix = testPrefix("state-redis-conformance");

describeStoreConformance("@loly-rt/state-redis", () => createRedisStateStore({ url: redisUrl(), prefix }), {
  cleanup: async () => {
    await deleteKeys(prefix);
  },
});

// The same guarantees through a client of yours created with `stringNumbers: true` (ioredis then
// answers every integer as a string).
const stringPrefix = testPrefix("state-redis-conformance-strings");
const stringClients: Redis[] = [];
describeStoreConformance(
  "@loly-rt/state-redis over a stringNumbers client",
  () => {
    const redis = new Redis(redisUrl(), { stringNumbers: true });
    stringClients.push(redis);
    return createRedisStateStore({ redis, prefix: stringPrefix });
  },
  {
    cleanup: async () => {
      await deleteKeys(stringPrefix);
    },
  },
);
afterAll(() => {
  for (const c of stringClients) c.disconnect();
});
