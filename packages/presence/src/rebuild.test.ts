import { describe, expect, it } from "vitest";
import { planRebuild, splitWrites } from "./rebuild.js";

/** The groups of one call as `[suffix, part, fields]`. */
function groups(call: string[]): Array<[string, string, string[]]> {
  const out: Array<[string, string, string[]]> = [];
  for (let i = 0; i < call.length; ) {
    const n = Number(call[i + 2]);
    out.push([call[i] as string, call[i + 1] as string, call.slice(i + 3, i + 3 + 2 * n)]);
    i += 3 + 2 * n;
  }
  return out;
}

const triples = (suffix: string, n: number, from = 0): string[] =>
  Array.from({ length: n }, (_, i) => [suffix, `f${from + i}`, `v${from + i}`]).flat();

describe("planRebuild", () => {
  it("sends one empty call for an empty snapshot", () => {
    expect(planRebuild([])).toEqual([[]]);
  });

  it("keeps a hash that fits whole, skips deletions, and merges a hash's fields wherever they stand", () => {
    const calls = planRebuild(["u:/a", "x", "1", "r:2:/a:r", "x", "", "u:/a", "y", "2"], { fields: 10, hashes: 10 });
    expect(calls.map(groups)).toEqual([[["u:/a", "w", ["x", "1", "y", "2"]]]]);
  });

  it("bounds every call by fields and by hashes, and never splits a hash that fits in one call", () => {
    const snapshot = [...triples("a", 3), ...triples("b", 3), ...triples("c", 3), ...triples("d", 1)];
    const calls = planRebuild(snapshot, { fields: 4, hashes: 2 }).map(groups);
    expect(calls.map((c) => c.map(([suffix, part]) => `${suffix}${part}`))).toEqual([["aw"], ["bw"], ["cw", "dw"]]);
  });

  it("cuts a larger hash into first, middle and last parts, in order, all fields once", () => {
    const calls = planRebuild([...triples("small", 1), ...triples("big", 10)], { fields: 4, hashes: 8 }).map(groups);
    expect(calls.map((c) => c.map(([suffix, part, fields]) => `${suffix}:${part}:${fields.length / 2}`))).toEqual([
      ["small:w:1", "big:f:3"],
      ["big:m:4"],
      ["big:l:3"],
    ]);
    const big = calls
      .flat()
      .filter(([suffix]) => suffix === "big")
      .flatMap(([, , fields]) => fields);
    expect(big).toEqual(triples("big", 10).filter((_, i) => i % 3 !== 0));
  });
});

describe("splitWrites", () => {
  it("keeps a small list as it is and cuts a long one into whole writes", () => {
    const small = triples("a", 3);
    expect(splitWrites(small, { fields: 4, hashes: 4 })).toEqual([small]);
    const parts = splitWrites(triples("a", 10), { fields: 4, hashes: 3 });
    expect(parts.map((p) => p.length / 3)).toEqual([3, 3, 3, 1]);
    expect(parts.flat()).toEqual(triples("a", 10));
  });
});
