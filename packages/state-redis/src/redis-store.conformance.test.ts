import { describeStoreConformance } from "@loly-rt/core/testing";
import { deleteKeys, redisUrl, testPrefix } from "../../../tests/setup/redis.js";
import { createRedisStateStore } from "./index.js";

const prefix = testPrefix("state-redis-conformance");

describeStoreConformance("@loly-rt/state-redis", () => createRedisStateStore({ url: redisUrl(), prefix }), {
  cleanup: async () => {
    await deleteKeys(prefix);
  },
});
