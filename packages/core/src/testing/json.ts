/** The JSON part of the store conformance suite (run by `describeStoreConformance`). */
import { describe, expect, it } from "vitest";
import type { JsonValue, RealtimeStateStore } from "../store.js";

/**
 * Registers the tests of a store's JSON semantics: it keeps what `JSON.stringify`/`JSON.parse`
 * would give back, and refuses (a `TypeError` saying "values must be JSON") what JSON cannot
 * hold, writing nothing. `store` returns the suite's shared store; `key` a fresh key.
 *
 * @example
 * describeJsonSemantics(() => store, (label) => `${run}:${label}:${++seq}`);
 */
export function describeJsonSemantics(store: () => RealtimeStateStore, key: (label: string) => string): void {
  describe("JSON semantics", () => {
    it("stores what JSON.stringify/parse would give back", async () => {
      const k = key("json");
      const date = new Date("2024-01-02T03:04:05.000Z");
      await store().set(k, { keep: 1, dropped: undefined, date, nan: Number.NaN } as unknown as JsonValue);
      expect(await store().get(k)).toEqual({ keep: 1, date: "2024-01-02T03:04:05.000Z", nan: null });
      const nan = key("nan");
      await store().set(nan, Number.NaN);
      expect(await store().get(nan)).toBeNull();
      const negzero = key("negzero");
      await store().set(negzero, -0);
      expect(Object.is(await store().get(negzero), 0)).toBe(true);
    });

    it("rejects a value JSON cannot hold, and writes nothing", async () => {
      const k = key("not-json");
      await expect(store().set(k, undefined as unknown as JsonValue)).rejects.toThrow(/values must be JSON/);
      await expect(store().listPush(k, (() => 1) as unknown as JsonValue)).rejects.toThrow(/values must be JSON/);
      await expect(store().set(k, { big: 1n } as unknown as JsonValue)).rejects.toThrow(TypeError);
      expect(await store().get(k)).toBeNull();
      expect(await store().listRange(k, 0, -1)).toEqual([]);
    });
  });
}
