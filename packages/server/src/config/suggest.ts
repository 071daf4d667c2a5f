/** The "did you mean" of an unknown configuration key. */
import { CONFIG_KEYS } from "@loly-rt/core/config";

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost));
    }
    prev = row;
  }
  return prev[b.length] as number;
}

/**
 * The key path meant by the unknown `key` of the group at `base`: a close sibling (any case,
 * or one or two typos), else a key of that name elsewhere in the configuration, when one of
 * the two is at the top (`adapter` for `scale.adapter`, `scale.path` for `path`): between two
 * groups deeper down a same name is a coincidence (`scale.adapter.host` is not `metrics.host`).
 */
export function suggest(key: string, siblings: readonly string[], base: string): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const sibling of siblings) {
    const d = sibling.toLowerCase() === lower ? 0 : levenshtein(lower, sibling.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = sibling;
    }
  }
  if (best !== undefined && bestDistance <= (key.length > 4 ? 2 : 1)) return base === "" ? best : `${base}.${best}`;
  const elsewhere = CONFIG_KEYS.find((node) => node.key.toLowerCase() === lower)?.path;
  return elsewhere !== undefined && (base === "" || !elsewhere.includes(".")) ? elsewhere : undefined;
}
