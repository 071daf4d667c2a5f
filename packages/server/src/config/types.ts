import type { RealtimeConfig } from "@loly-rt/core";

/** What {@link resolveConfig} returns. */
export interface ResolvedConfig {
  /** Every key set: the input merged over the defaults, Redis URLs resolved. A fresh object. */
  config: RealtimeConfig;
  /** Problems that do not stop start-up (log them), each starting with its key path. */
  warnings: string[];
  /** True when `NODE_ENV` was `"production"`. */
  production: boolean;
}

/** The environment {@link resolveConfig} reads. */
export interface ConfigEnv {
  /** `"production"` is production; anything else is development. */
  NODE_ENV?: string | undefined;
  /** Fallback Redis URL. When the key is absent from the object, `process.env.REDIS_URL` is used. */
  REDIS_URL?: string | undefined;
}

/** One documented configuration key, as {@link describeConfig} lists it. */
export interface ConfigKeyDescription {
  /** Dotted key path, e.g. `"limits.burst"`. */
  path: string;
  /** The accepted values, in words, e.g. `"integer >= 1"`. */
  type: string;
  /** Default in development; `undefined` when the key has none (optional or computed). */
  default: unknown;
  /** Default in production, present only where it differs from `default`. */
  productionDefault?: unknown;
  /** True when production (NODE_ENV=production) requires the key. */
  requiredInProduction?: boolean;
  /** What the key does. */
  description: string;
}
