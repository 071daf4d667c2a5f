// In-process backends
export { createMemoryPresence, createMemoryConnectionCounter } from "./memory.js";

// Redis backends
export { createRedisPresence } from "./redis-presence.js";
export { createRedisConnectionCounter } from "./redis-counter.js";
export type { RedisPresence, RedisPresenceOptions } from "./redis-presence.js";
export type { RedisConnectionCounter, RedisConnectionCounterOptions } from "./redis-counter.js";
export type { RedisPresenceErrorHandler, RedisPresenceErrorStage } from "./registry.js";
