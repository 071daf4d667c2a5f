import type { RealtimeConfig } from "@loly-rt/core";
import { parseConfig } from "@loly-rt/core/config";

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value as DeepReadonly<T>;
}

/**
 * The development defaults (`NODE_ENV` other than `"production"`). Frozen; in production
 * `logging.pretty` defaults to `false` and `allowedOrigins` has no default (it is required).
 */
export const DEFAULT_CONFIG: DeepReadonly<RealtimeConfig> = deepFreeze(parseConfig({}));
