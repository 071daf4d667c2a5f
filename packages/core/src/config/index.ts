// The configuration schema at run time, for `@loly-rt/server` (through `@loly-rt/core/config`,
// an entry of its own so that nothing else loads valibot): the schema, run and walked, and its
// value rules. Not a public API, no semver promise.
export { CONFIG_SCHEMA } from "./schema.js";
export { configIssues, parseConfig, type ConfigIssue } from "./check.js";
export { CONFIG_TREE, CONFIG_KEYS, type ConfigNode } from "./tree.js";
export type { ConfigKeyMeta } from "./kinds.js";
export { isPlainObject, isRedisUrl, ORIGIN_EXAMPLE, REDIS_URL_EXPECTED } from "./values.js";
