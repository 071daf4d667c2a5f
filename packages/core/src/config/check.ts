/**
 * Runs the configuration schema: the problems of a user's config, and the config with every
 * default filled in.
 */
import * as v from "valibot";
import { CONFIG_SCHEMA } from "./schema.js";
import type { RealtimeConfig } from "./types.js";

/** A value the schema refuses. */
export interface ConfigIssue {
  /** Where: object keys and array indices from the root (`["allowedOrigins", 1]`). */
  path: (string | number)[];
  /** What was expected, in the words after "expected" (`"a number >= 1"`). */
  expected: string;
  /** The refused value. */
  value: unknown;
}

/**
 * Every value of `input` the schema refuses, one issue per value (a value breaking several
 * rules of its key is reported once), in the schema's order. Unknown keys are not issues:
 * the schema drops them and the server lists them (with a "did you mean").
 */
export function configIssues(input: unknown): ConfigIssue[] {
  const { issues } = v.safeParse(CONFIG_SCHEMA, input, { abortPipeEarly: true });
  return (issues ?? []).map((issue) => ({
    path: (issue.path ?? []).map((item) => item.key as string | number),
    expected: issue.message,
    value: issue.input,
  }));
}

/**
 * The full configuration of an `input` that has no issues: every absent key set to its
 * default, arrays copied, origins canonicalized. A fresh object.
 *
 * @throws valibot's `ValiError` when `input` has issues (check {@link configIssues} first).
 */
export function parseConfig(input: unknown): RealtimeConfig {
  return v.parse(CONFIG_SCHEMA, input);
}
