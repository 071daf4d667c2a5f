import type { RateLimitCfg, RateLimitScope } from "../ratelimit.js";

/**
 * The rules of every rate-limit setting, in one place: an event's `rateLimit`
 * (`assertWssRouteDefinition`), the global `limits.eventsPerSecond`/`limits.burst` of the
 * configuration and a bucket (`bucketSpec` of `@loly-rt/ratelimit`). Each caller words the
 * failure its own way; the rule is this one.
 */

/** Who may share one bucket, in the order the messages list them. */
export const RATE_LIMIT_SCOPES = ["socket", "ip", "user"] as const satisfies readonly RateLimitScope[];

/** The bound each numeric setting meets, as written after "a number" in the messages. */
export const RATE_LIMIT_BOUNDS = { eventsPerSecond: "> 0", burst: ">= 1" } as const;

/** A numeric setting of a bucket. */
export type RateLimitNumberKey = keyof typeof RATE_LIMIT_BOUNDS;

/** A setting that breaks its rule, and the value it has. */
export interface RateLimitProblem {
  key: keyof RateLimitCfg;
  value: unknown;
}

/**
 * True when `value` is valid for `key`: `eventsPerSecond` a finite number > 0, `burst` a
 * finite number >= 1, `scope` one of {@link RATE_LIMIT_SCOPES}. (Whether a key may be absent
 * is {@link rateLimitProblems}'s business.)
 */
export function isValidRateLimitValue(key: keyof RateLimitCfg, value: unknown): boolean {
  if (key === "scope") return (RATE_LIMIT_SCOPES as readonly unknown[]).includes(value);
  if (typeof value !== "number" || !Number.isFinite(value)) return false;
  return key === "eventsPerSecond" ? value > 0 : value >= 1;
}

/**
 * The settings of `cfg` that break their rule, in the order `eventsPerSecond`, `burst`,
 * `scope`; `[]` when it is valid. `eventsPerSecond` is required; `burst` and `scope` may be
 * absent (`undefined`), so a caller that has no scope to check passes `{ eventsPerSecond, burst }`.
 *
 * @example
 * rateLimitProblems({ eventsPerSecond: 0, burst: 5 }); // [{ key: "eventsPerSecond", value: 0 }]
 */
export function rateLimitProblems(cfg: Readonly<Partial<Record<keyof RateLimitCfg, unknown>>>): RateLimitProblem[] {
  const problems: RateLimitProblem[] = [];
  for (const key of ["eventsPerSecond", "burst", "scope"] as const) {
    const value = cfg[key];
    if ((key === "eventsPerSecond" || value !== undefined) && !isValidRateLimitValue(key, value)) problems.push({ key, value });
  }
  return problems;
}
