/**
 * What the schema fills in after the checks: the user's config without the refused values,
 * so that each takes its default and the cross-key rules still see a whole config.
 */
import { CONFIG_TREE, isPlainObject, type ConfigNode } from "@loly-rt/core/config";

function copy(node: ConfigNode, from: Record<string, unknown>, bad: ReadonlySet<string>, production: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const child of node.children ?? []) {
    const given = bad.has(child.path) ? undefined : from[child.key];
    let value: unknown;
    if (child.children === undefined) value = given === undefined && production ? child.meta?.productionDefault : given;
    // A refused group takes its defaults; an absent optional group stays absent.
    else if (given !== undefined || !child.optional) value = copy(child, (given ?? {}) as Record<string, unknown>, bad, production);
    if (value !== undefined) out[child.key] = value;
  }
  return out;
}

/**
 * A copy of `input`'s known keys (plain objects copied, values kept) without the keys in
 * `bad` and without `undefined` values; in production, the production default of each absent
 * key that has one. Its parse cannot fail.
 */
export function inputWithDefaults(input: unknown, bad: ReadonlySet<string>, production: boolean): Record<string, unknown> {
  return copy(CONFIG_TREE, isPlainObject(input) ? input : {}, bad, production);
}
