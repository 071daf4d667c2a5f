// Store
export { createRedisStateStore } from "./redis-store.js";
export type { RedisStateStore, RedisStateStoreOptions } from "./redis-store.js";
