// Adapter
export { createRedisAdapter } from "./adapter.js";
export type {
  CreateRedisAdapterOptions,
  RedisAdapterHandle,
  RedisAdapterHealth,
  RedisAdapterErrorStage,
} from "./adapter.js";
export type { RedisAdapterDropReason } from "./freshness.js";
