import { LolyError, type RealtimeConfigInput } from "@loly-rt/core";
import { isPlainObject, parseConfig } from "@loly-rt/core/config";
import { Collector } from "./collector.js";
import { inputWithDefaults } from "./prepare.js";
import { applyRules } from "./rules.js";
import { collectSchemaProblems } from "./schema-problems.js";
import type { ConfigEnv, ResolvedConfig } from "./types.js";

/**
 * Merges `input` over the defaults and validates the result. Every problem is collected and
 * thrown at once as one `LolyError("INVALID_CONFIG")` whose message has one line per problem:
 * key path, what was expected and the bad value. Unknown keys are errors (with a "did you
 * mean"). Problems that do not stop start-up come back in `warnings`.
 *
 * `env` is read when called (default `process.env`): `NODE_ENV === "production"` is
 * production, where `allowedOrigins` must be a list and `logging.pretty` defaults to false.
 * Redis URLs fall back to `env.REDIS_URL` (to `process.env.REDIS_URL` when `env` has no
 * `REDIS_URL` key) and are resolved into the returned config.
 *
 * @example
 * const { config, warnings } = resolveConfig({ limits: { burst: 100 } });
 * for (const w of warnings) logger.warn(w);
 *
 * // throws: Invalid realtime config (2 problems):
 * //   - limits.burst: expected a number >= 1, got -3
 * //   - scale.adapter: required when scale.mode is "cluster" ...
 * resolveConfig({ limits: { burst: -3 }, scale: { mode: "cluster" } });
 */
export function resolveConfig(given: RealtimeConfigInput | undefined, env: ConfigEnv = process.env): ResolvedConfig {
  const production = env.NODE_ENV === "production";
  // `recovery: false` is the short form of `recovery: { enabled: false }`.
  const input = isPlainObject(given) && given.recovery === false ? { ...given, recovery: { enabled: false } } : given;
  const out = new Collector();
  const warnings: string[] = [];
  collectSchemaProblems(input, out);
  const config = parseConfig(inputWithDefaults(input, out.bad, production));
  applyRules(config, {
    given: isPlainObject(input) ? input : {},
    production,
    envRedisUrl: "REDIS_URL" in env ? env.REDIS_URL : process.env.REDIS_URL,
    out,
    warnings,
  });

  if (out.problems.length > 0) {
    const count = out.problems.length;
    const lines = out.problems.map((p) => `- ${p.path}: ${p.text}`);
    throw new LolyError("INVALID_CONFIG", `Invalid realtime config (${count} problem${count === 1 ? "" : "s"}):\n${lines.join("\n")}`, {
      problems: out.problems.map((p) => ({ path: p.path, message: p.text })),
    });
  }
  return { config, warnings, production };
}
