import { describe, expect, it } from "vitest";
import { isValidRateLimitValue, rateLimitProblems } from "./rate-limit.js";

describe("rateLimitProblems", () => {
  it("accepts a valid setting, with or without burst and scope", () => {
    expect(rateLimitProblems({ eventsPerSecond: 0.5 })).toEqual([]);
    expect(rateLimitProblems({ eventsPerSecond: 5, burst: 1, scope: "user" })).toEqual([]);
  });

  it("requires eventsPerSecond: a finite number > 0", () => {
    for (const value of [undefined, 0, -1, Number.NaN, Infinity, "5", null]) {
      expect(rateLimitProblems({ eventsPerSecond: value })).toEqual([{ key: "eventsPerSecond", value }]);
    }
  });

  it("lists every broken key in the order eventsPerSecond, burst, scope", () => {
    expect(rateLimitProblems({ scope: "room", burst: 0.5, eventsPerSecond: 0 })).toEqual([
      { key: "eventsPerSecond", value: 0 },
      { key: "burst", value: 0.5 },
      { key: "scope", value: "room" },
    ]);
  });

  it("checks burst (a finite number >= 1) and scope only when present", () => {
    expect(isValidRateLimitValue("burst", 1)).toBe(true);
    expect(isValidRateLimitValue("burst", Infinity)).toBe(false);
    expect(isValidRateLimitValue("burst", null)).toBe(false);
    expect(isValidRateLimitValue("scope", "ip")).toBe(true);
    expect(isValidRateLimitValue("scope", undefined)).toBe(false);
    expect(rateLimitProblems({ eventsPerSecond: 1, burst: undefined, scope: undefined })).toEqual([]);
  });
});
