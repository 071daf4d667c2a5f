import { CONFIG_KEYS } from "@loly-rt/core/config";
import type { ConfigKeyDescription } from "./types.js";

/**
 * Every configuration key with its default and a description, in declaration order: the
 * source of the config reference in the docs. Groups are listed only when they are optional
 * (`scale.adapter`); their keys always are.
 *
 * @example
 * describeConfig().find((k) => k.path === "limits.burst");
 * // { path: "limits.burst", type: "number >= 1", default: 60, description: "Capacity of ..." }
 */
export function describeConfig(): ConfigKeyDescription[] {
  const out: ConfigKeyDescription[] = [];
  for (const key of CONFIG_KEYS) {
    const { path, description, meta } = key;
    if (meta === undefined) {
      if (key.optional) out.push({ path, type: "object", default: undefined, description });
      continue;
    }
    const entry: ConfigKeyDescription = { path, type: meta.type, default: key.defaultValue(), description };
    if ("productionDefault" in meta) entry.productionDefault = meta.productionDefault;
    if (meta.requiredInProduction) entry.requiredInProduction = true;
    out.push(entry);
  }
  return out;
}
