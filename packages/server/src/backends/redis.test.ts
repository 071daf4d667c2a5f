import { describe, expect, it } from "vitest";
import { MIN_REDIS_VERSION, versionAtLeast } from "./redis.js";

describe("versionAtLeast (the start-up Redis version check)", () => {
  it("compares dotted versions part by part, as numbers", () => {
    expect(MIN_REDIS_VERSION).toBe("6.2.0");
    expect(versionAtLeast("7.0.15", "6.2.0")).toBe(true);
    expect(versionAtLeast("6.2.0", "6.2.0")).toBe(true);
    expect(versionAtLeast("6.2", "6.2.0")).toBe(true);
    expect(versionAtLeast("6.10.0", "6.2.0")).toBe(true);
    expect(versionAtLeast("255.255.255", "6.2.0")).toBe(true); // a development build
    expect(versionAtLeast("6.0.16", "6.2.0")).toBe(false);
    expect(versionAtLeast("5.0.14", "6.2.0")).toBe(false);
    expect(versionAtLeast("6.1.99", "6.2.0")).toBe(false);
    expect(versionAtLeast("garbage", "6.2.0")).toBe(false);
  });
});
