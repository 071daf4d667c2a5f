// The configuration of the server: resolved (checked, merged, Redis URLs filled) and described.
export { resolveConfig } from "./resolve.js";
export { DEFAULT_CONFIG } from "./defaults.js";
export { describeConfig } from "./describe.js";
export type { ResolvedConfig, ConfigEnv, ConfigKeyDescription } from "./types.js";
