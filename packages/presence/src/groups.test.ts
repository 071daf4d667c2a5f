import { describe, expect, it } from "vitest";
import { CLUSTER_GROUPS, fnv1a32, groupOf } from "./groups.js";

describe("cluster groups", () => {
  it("hashes with FNV-1a 32-bit (the published test vectors)", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });

  it("hashes the UTF-8 bytes of non-ASCII names", () => {
    // "/é" is 2f c3 a9 in UTF-8: the same as hashing those bytes one by one.
    let h = 0x811c9dc5;
    for (const b of [0x2f, 0xc3, 0xa9]) h = Math.imul(h ^ b, 0x01000193);
    expect(fnv1a32("/é")).toBe(h >>> 0);
  });

  it("puts names in a group from 0 to 15, and a few hundred namespaces in every group", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const g = groupOf(`/room-${i}`);
      expect(Number.isInteger(g) && g >= 0 && g < CLUSTER_GROUPS).toBe(true);
      seen.add(g);
    }
    expect(seen.size).toBe(CLUSTER_GROUPS);
    expect(groupOf("10.0.0.1")).toBe(groupOf("10.0.0.1"));
  });
});
