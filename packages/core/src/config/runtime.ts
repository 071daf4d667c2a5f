// What the other @loly-rt packages need of the configuration at run time (through
// `@loly-rt/core/internal`): the schema, run and walked, its value rules and the rate-limit rule.
export { CONFIG_SCHEMA } from "./schema.js";
export { configIssues, parseConfig, type ConfigIssue } from "./check.js";
export { CONFIG_TREE, CONFIG_KEYS, type ConfigNode } from "./tree.js";
export type { ConfigKeyMeta } from "./kinds.js";
export { isPlainObject, isRedisUrl, ORIGIN_EXAMPLE, REDIS_URL_EXPECTED } from "./values.js";
export { rateLimitProblems, isValidRateLimitValue, RATE_LIMIT_BOUNDS, RATE_LIMIT_SCOPES } from "./rate-limit.js";
export type { RateLimitProblem, RateLimitNumberKey } from "./rate-limit.js";
