/**
 * Shared Redis plumbing of the Loly packages (and of anyone writing a Redis backend): a
 * structural client type, the Lua script runner, once-per-outage reporting, closing a client
 * and the default key prefix. No Redis client library is imported at run time.
 */

// Client shape
export type { RedisArg, RedisScriptClient, RedisClientLike } from "./client.js";

// Lua scripts
export { luaScript, runScript, evalOnNoScript, isNoScriptError } from "./script.js";
export type { LuaScript, RunScriptOptions } from "./script.js";

// Outages
export { createOutageReporter } from "./outage.js";
export type { OutageReporter, OutageCallbacks } from "./outage.js";

// Lifecycle
export { closeRedisClient } from "./close.js";
export type { ClosableRedisClient, CloseRedisClientOptions } from "./close.js";

// Keys
export { DEFAULT_KEY_PREFIX } from "./prefix.js";

// Topologies (one URL, Redis Cluster, Sentinel)
export { describeTopology, redisNodeOf, topologyText } from "./topology.js";
export type { RedisNodeAddress, RedisTopology } from "./topology.js";
