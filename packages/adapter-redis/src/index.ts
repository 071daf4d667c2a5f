// Adapter
export { createRedisAdapter } from "./adapter.js";
export type {
  CreateRedisAdapterOptions,
  RedisAdapterHandle,
  RedisAdapterHealth,
  RedisAdapterErrorStage,
} from "./adapter.js";
export type { RedisAdapterDropReason } from "./freshness.js";

// Connection-state recovery across the cluster (used by @loly-rt/server)
export type { RecoveringRedisAdapter, RecoveryHooks } from "./recovery/adapter.js";
export type { ShardedRedisAdapter, ShardedAdapterOptions } from "./sharded.js";
export type { RedisRecoveryLog, LoggedBroadcast } from "./recovery/log.js";
export type { RedisRecoverySessions, StoredSession } from "./recovery/sessions.js";
