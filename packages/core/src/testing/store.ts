/** The conformance suite of the `RealtimeStateStore` contract. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JsonValue, LockRelease, RealtimeStateStore } from "../store.js";
import { describeJsonSemantics } from "./json.js";

/** Builds the store under test. Called once for the shared instance and once per close test. */
export type StoreFactory = () => Promise<RealtimeStateStore> | RealtimeStateStore;

/** Options of {@link describeStoreConformance}. */
export interface StoreConformanceOptions {
  /**
   * Runs after the last test, before the shared store is closed: delete what the suite
   * wrote (for a Redis store: every key under its test prefix).
   */
  cleanup?: (store: RealtimeStateStore) => Promise<void> | void;
  /**
   * Multiplies every TTL and wait of the timing tests. Raise it for a store whose clock or
   * network is coarse (the suite's base TTL is 80 ms and it waits 2.5x that).
   * @default 1
   */
  timeScale?: number;
  /**
   * Operations fired at once by the atomicity tests.
   * @default 200
   */
  concurrency?: number;
}

/**
 * Registers a vitest suite that proves a {@link RealtimeStateStore} keeps every guarantee of
 * the contract: JSON round trip without shared references, JSON semantics (what
 * `JSON.stringify`/`JSON.parse` give back; a value JSON cannot hold is refused with a
 * `TypeError` saying "values must be JSON"), TTL never leaking through any
 * method, atomic `incr`/`decr`, list and set semantics, exclusive self-expiring locks whose
 * stale release is harmless, wrong-type errors and an idempotent `close`.
 *
 * Every test writes its own random keys, so the suite can run against a shared backend;
 * use `cleanup` to remove them.
 *
 * @example
 * import { describeStoreConformance } from "@loly-rt/core/testing";
 * import { createMyStore } from "./my-store.js";
 *
 * describeStoreConformance("my store", () => createMyStore(), {
 *   cleanup: (store) => (store as MyStore).dropAll(),
 * });
 */
export function describeStoreConformance(name: string, factory: StoreFactory, options: StoreConformanceOptions = {}): void {
  const scale = options.timeScale ?? 1;
  const concurrency = options.concurrency ?? 200;
  const ttl = Math.ceil(80 * scale);
  const afterTtl = Math.ceil(200 * scale);
  const run = `conformance:${Math.random().toString(36).slice(2, 10)}`;
  let seq = 0;
  const key = (label: string): string => `${run}:${label}:${++seq}`;
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  describe(`${name}: RealtimeStateStore conformance`, () => {
    let store: RealtimeStateStore;

    beforeAll(async () => {
      store = await factory();
    });

    afterAll(async () => {
      if (!store) return;
      try {
        await options.cleanup?.(store);
      } finally {
        await store.close?.();
      }
    });

    describe("get / set", () => {
      const samples: Array<[string, JsonValue]> = [
        ["a string", "hello"],
        ["an empty string", ""],
        ["a unicode string", 'héllo ✓ 🚀 \u0000 \n "quoted"'],
        ["an integer", 42],
        ["a negative float", -3.25],
        ["zero", 0],
        ["true", true],
        ["false", false],
        ["null", null],
        ["an empty array", []],
        ["an empty object", {}],
        ["a nested object", { a: 1, b: [1, "two", { three: 3 }], c: { d: null, e: false, f: "" } }],
        ["an array of mixed values", [1, "a", null, true, { x: [] }, [[]]]],
      ];

      it.each(samples)("round-trips %s", async (_label, value) => {
        const k = key("roundtrip");
        await store.set(k, value);
        expect(await store.get(k)).toEqual(value);
      });

      it("returns an equal value, never the stored reference", async () => {
        const k = key("ref");
        const value = { list: [1, 2], nested: { n: 1 } };
        await store.set(k, value);
        const first = await store.get<typeof value>(k);
        const second = await store.get<typeof value>(k);
        expect(first).toEqual(value);
        expect(first).not.toBe(value);
        expect(first).not.toBe(second);
        expect(first?.nested).not.toBe(value.nested);
      });

      it("is not changed by mutating the object handed to set", async () => {
        const k = key("mut-in");
        const value = { count: 1, tags: ["a"] };
        await store.set(k, value);
        value.count = 2;
        value.tags.push("b");
        expect(await store.get(k)).toEqual({ count: 1, tags: ["a"] });
      });

      it("is not changed by mutating a value get returned", async () => {
        const k = key("mut-out");
        await store.set(k, { count: 1, tags: ["a"] });
        const got = await store.get<{ count: number; tags: string[] }>(k);
        got!.count = 99;
        got!.tags.push("z");
        expect(await store.get(k)).toEqual({ count: 1, tags: ["a"] });
      });

      it("does not mutate the value handed to set (a deeply frozen value is accepted)", async () => {
        const k = key("frozen");
        const inner = Object.freeze({ deep: Object.freeze([1, 2]) });
        const value = Object.freeze({ inner }) as unknown as JsonValue;
        await store.set(k, value);
        expect(await store.get(k)).toEqual({ inner: { deep: [1, 2] } });
        expect(value).toEqual({ inner: { deep: [1, 2] } });
      });

      it("reads a missing key as null", async () => {
        expect(await store.get(key("missing"))).toBeNull();
      });

      it("replaces the value of an existing key", async () => {
        const k = key("replace");
        await store.set(k, { v: 1 });
        await store.set(k, "second");
        expect(await store.get(k)).toBe("second");
      });

      it("treats keys as opaque strings", async () => {
        const keys = [`${run}:odd:a`, `${run}:odd:a `, `${run}:odd:A`, `${run}:odd:*?[x]`, `${run}:odd:é ✓`, `${run}:odd:a:b`];
        await Promise.all(keys.map((k, i) => store.set(k, i)));
        expect(await Promise.all(keys.map((k) => store.get(k)))).toEqual(keys.map((_k, i) => i));
        await Promise.all(keys.map((k) => store.del(k)));
      });

      it("overwrites a list or a set with a plain value", async () => {
        const listKey = key("over-list");
        const setKey = key("over-set");
        await store.listPush(listKey, 1);
        await store.setAdd(setKey, "m");
        await store.set(listKey, "now a value");
        await store.set(setKey, { now: "a value" });
        expect(await store.get(listKey)).toBe("now a value");
        expect(await store.get(setKey)).toEqual({ now: "a value" });
      });
    });

    describeJsonSemantics(() => store, key);

    describe("TTL", () => {
      it("keeps a key until its ttlMs elapses, then never returns it", async () => {
        const k = key("ttl");
        await store.set(k, { alive: true }, { ttlMs: ttl });
        expect(await store.get(k)).toEqual({ alive: true });
        await sleep(afterTtl);
        expect(await store.get(k)).toBeNull();
        expect(await store.get(k)).toBeNull();
      });

      it("a key without ttlMs does not expire", async () => {
        const k = key("no-ttl");
        await store.set(k, 1);
        await sleep(afterTtl);
        expect(await store.get(k)).toBe(1);
      });

      it("set without ttlMs removes a previous TTL", async () => {
        const k = key("ttl-removed");
        await store.set(k, "first", { ttlMs: ttl });
        await store.set(k, "second");
        await sleep(afterTtl);
        expect(await store.get(k)).toBe("second");
      });

      it("set with ttlMs gives a key without TTL one", async () => {
        const k = key("ttl-added");
        await store.set(k, "first");
        await store.set(k, "second", { ttlMs: ttl });
        expect(await store.get(k)).toBe("second");
        await sleep(afterTtl);
        expect(await store.get(k)).toBeNull();
      });

      it("set with a new ttlMs replaces the old one", async () => {
        const k = key("ttl-extended");
        await store.set(k, "first", { ttlMs: ttl });
        await store.set(k, "second", { ttlMs: afterTtl * 4 });
        await sleep(afterTtl);
        expect(await store.get(k)).toBe("second");
      });

      it("an expired key is missing for every method", async () => {
        const kinds = ["del", "incr", "decr", "listPush", "listRange", "setAdd", "setRem", "setMembers"] as const;
        const keys = Object.fromEntries(kinds.map((kind) => [kind, key(`expired-${kind}`)])) as Record<(typeof kinds)[number], string>;
        // "text" is not an integer: an expired value that leaked into incr would make it reject.
        await Promise.all(kinds.map((kind) => store.set(keys[kind], "text", { ttlMs: ttl })));
        await sleep(afterTtl);
        expect(await store.del(keys.del)).toBe(false);
        expect(await store.incr(keys.incr, 5)).toBe(5);
        expect(await store.decr(keys.decr)).toBe(-1);
        // A leaked plain value would make the list and set operations reject with a wrong type.
        expect(await store.listPush(keys.listPush, "x")).toBe(1);
        expect(await store.listRange(keys.listPush, 0, -1)).toEqual(["x"]);
        expect(await store.listRange(keys.listRange, 0, -1)).toEqual([]);
        expect(await store.setAdd(keys.setAdd, "m")).toBe(true);
        expect(await store.setMembers(keys.setAdd)).toEqual(["m"]);
        expect(await store.setRem(keys.setRem, "m")).toBe(false);
        expect(await store.setMembers(keys.setMembers)).toEqual([]);
      });

      it("rejects a ttlMs that is not a positive number", async () => {
        const k = key("bad-ttl");
        for (const ttlMs of [0, -5, Number.NaN]) {
          await expect(store.set(k, 1, { ttlMs })).rejects.toThrow(/ttl/i);
        }
        expect(await store.get(k)).toBeNull();
      });
    });

    describe("del", () => {
      it("resolves true when the key existed, false otherwise", async () => {
        const k = key("del");
        await store.set(k, "v");
        expect(await store.del(k)).toBe(true);
        expect(await store.get(k)).toBeNull();
        expect(await store.del(k)).toBe(false);
        expect(await store.del(key("del-missing"))).toBe(false);
      });

      it("removes a key of any kind", async () => {
        const listKey = key("del-list");
        const setKey = key("del-set");
        const counterKey = key("del-counter");
        await store.listPush(listKey, { a: 1 });
        await store.setAdd(setKey, "m");
        await store.incr(counterKey);
        expect(await store.del(listKey)).toBe(true);
        expect(await store.del(setKey)).toBe(true);
        expect(await store.del(counterKey)).toBe(true);
        expect(await store.listRange(listKey, 0, -1)).toEqual([]);
        expect(await store.setMembers(setKey)).toEqual([]);
        expect(await store.get(counterKey)).toBeNull();
      });
    });

    describe("incr / decr", () => {
      it("counts a missing key as 0 and adds 1 by default", async () => {
        const k = key("incr");
        expect(await store.incr(k)).toBe(1);
        expect(await store.incr(k)).toBe(2);
        expect(await store.get(k)).toBe(2);
      });

      it("adds and subtracts `by`", async () => {
        const k = key("incr-by");
        expect(await store.incr(k, 10)).toBe(10);
        expect(await store.decr(k, 3)).toBe(7);
        expect(await store.incr(k, -10)).toBe(-3);
        expect(await store.decr(k, -4)).toBe(1);
        expect(await store.incr(k, 0)).toBe(1);
      });

      it("decr counts a missing key as 0 and subtracts 1 by default", async () => {
        const k = key("decr");
        expect(await store.decr(k)).toBe(-1);
        expect(await store.decr(k)).toBe(-2);
      });

      it("works on an integer written by set", async () => {
        const k = key("incr-set");
        await store.set(k, 41);
        expect(await store.incr(k)).toBe(42);
        await store.set(k, -1);
        expect(await store.decr(k, 2)).toBe(-3);
      });

      it("keeps the key's TTL", async () => {
        const k = key("incr-ttl");
        await store.set(k, 1, { ttlMs: ttl });
        expect(await store.incr(k)).toBe(2);
        expect(await store.decr(k, 5)).toBe(-3);
        await sleep(afterTtl);
        expect(await store.get(k)).toBeNull();
        expect(await store.incr(k)).toBe(1);
      });

      it("rejects on a key holding a non-integer and leaves it unchanged", async () => {
        const cases: JsonValue[] = ["text", "5", 1.5, true, null, { n: 1 }, [1]];
        for (const value of cases) {
          const k = key("incr-nan");
          await store.set(k, value);
          await expect(store.incr(k)).rejects.toThrow();
          await expect(store.decr(k)).rejects.toThrow();
          expect(await store.get(k)).toEqual(value);
        }
      });

      it("rejects a `by` that is not an integer", async () => {
        const k = key("incr-bad-by");
        await expect(store.incr(k, 1.5)).rejects.toThrow();
        await expect(store.decr(k, Number.NaN)).rejects.toThrow();
        expect(await store.get(k)).toBeNull();
      });

      it(`is exact under ${concurrency} concurrent incr`, async () => {
        const k = key("incr-race");
        const results = await Promise.all(Array.from({ length: concurrency }, () => store.incr(k)));
        expect(await store.get(k)).toBe(concurrency);
        expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: concurrency }, (_v, i) => i + 1));
      });

      it(`is exact under ${concurrency} concurrent mixed incr and decr`, async () => {
        const k = key("incr-mixed");
        await store.set(k, 0);
        await Promise.all(Array.from({ length: concurrency }, (_v, i) => (i % 2 === 0 ? store.incr(k, 3) : store.decr(k, 1))));
        expect(await store.get(k)).toBe(Math.ceil(concurrency / 2) * 3 - Math.floor(concurrency / 2));
      });
    });

    describe("lists", () => {
      it("listPush prepends and resolves the new length", async () => {
        const k = key("list");
        expect(await store.listPush(k, "a")).toBe(1);
        expect(await store.listPush(k, { b: 2 })).toBe(2);
        expect(await store.listPush(k, ["c"])).toBe(3);
        expect(await store.listRange(k, 0, -1)).toEqual([["c"], { b: 2 }, "a"]);
      });

      it("listRange is inclusive and counts negative indexes from the end", async () => {
        const k = key("range");
        for (const v of [5, 4, 3, 2, 1, 0]) await store.listPush(k, v);
        expect(await store.listRange(k, 0, 0)).toEqual([0]);
        expect(await store.listRange(k, 1, 3)).toEqual([1, 2, 3]);
        expect(await store.listRange(k, -1, -1)).toEqual([5]);
        expect(await store.listRange(k, -3, -1)).toEqual([3, 4, 5]);
        expect(await store.listRange(k, 2, -2)).toEqual([2, 3, 4]);
        expect(await store.listRange(k, -6, 1)).toEqual([0, 1]);
      });

      it("listRange clamps out-of-range indexes", async () => {
        const k = key("range-out");
        for (const v of ["c", "b", "a"]) await store.listPush(k, v);
        expect(await store.listRange(k, 0, 100)).toEqual(["a", "b", "c"]);
        expect(await store.listRange(k, -100, 0)).toEqual(["a"]);
        expect(await store.listRange(k, -100, 100)).toEqual(["a", "b", "c"]);
        expect(await store.listRange(k, 3, 10)).toEqual([]);
        expect(await store.listRange(k, 2, 1)).toEqual([]);
        expect(await store.listRange(k, -1, -2)).toEqual([]);
        expect(await store.listRange(k, 0, -100)).toEqual([]);
      });

      it("listRange of a missing key is []", async () => {
        expect(await store.listRange(key("range-missing"), 0, -1)).toEqual([]);
      });

      it("stores copies: mutating a pushed or returned item changes nothing", async () => {
        const k = key("list-copy");
        const item = { n: 1, arr: [1] };
        await store.listPush(k, item);
        item.n = 2;
        item.arr.push(2);
        const [got] = await store.listRange<{ n: number; arr: number[] }>(k, 0, 0);
        expect(got).toEqual({ n: 1, arr: [1] });
        got!.n = 3;
        got!.arr.push(3);
        expect(await store.listRange(k, 0, -1)).toEqual([{ n: 1, arr: [1] }]);
      });

      it(`is exact under ${concurrency} concurrent listPush`, async () => {
        const k = key("list-race");
        const lengths = await Promise.all(Array.from({ length: concurrency }, (_v, i) => store.listPush(k, i)));
        expect([...lengths].sort((a, b) => a - b)).toEqual(Array.from({ length: concurrency }, (_v, i) => i + 1));
        const items = await store.listRange<number>(k, 0, -1);
        expect([...items].sort((a, b) => a - b)).toEqual(Array.from({ length: concurrency }, (_v, i) => i));
      });
    });

    describe("sets", () => {
      it("setAdd resolves true when the member is new, false when it was there", async () => {
        const k = key("set");
        expect(await store.setAdd(k, "a")).toBe(true);
        expect(await store.setAdd(k, "a")).toBe(false);
        expect(await store.setAdd(k, "b")).toBe(true);
        expect((await store.setMembers(k)).sort()).toEqual(["a", "b"]);
      });

      it("setRem resolves true when the member was there, false otherwise", async () => {
        const k = key("set-rem");
        await store.setAdd(k, "a");
        await store.setAdd(k, "b");
        expect(await store.setRem(k, "a")).toBe(true);
        expect(await store.setRem(k, "a")).toBe(false);
        expect(await store.setRem(k, "zzz")).toBe(false);
        expect(await store.setRem(key("set-rem-missing"), "a")).toBe(false);
        expect(await store.setMembers(k)).toEqual(["b"]);
      });

      it("setMembers of a missing key is []", async () => {
        expect(await store.setMembers(key("set-missing"))).toEqual([]);
      });

      it("a set emptied by setRem no longer exists", async () => {
        const k = key("set-empty");
        await store.setAdd(k, "only");
        await store.setRem(k, "only");
        expect(await store.setMembers(k)).toEqual([]);
        expect(await store.del(k)).toBe(false);
        expect(await store.listPush(k, 1)).toBe(1);
      });

      it("members are opaque strings and the returned array is a copy", async () => {
        const k = key("set-copy");
        const members = ["", " ", "a", "A", "é ✓", "1", "{}"];
        for (const m of members) await store.setAdd(k, m);
        const got = await store.setMembers(k);
        expect([...got].sort()).toEqual([...members].sort());
        got.push("intruder");
        expect((await store.setMembers(k)).sort()).toEqual([...members].sort());
      });

      it(`exactly one of ${concurrency} concurrent setAdd of one member resolves true`, async () => {
        const k = key("set-race");
        const added = await Promise.all(Array.from({ length: concurrency }, () => store.setAdd(k, "same")));
        expect(added.filter(Boolean)).toHaveLength(1);
        expect(await store.setMembers(k)).toEqual(["same"]);
      });
    });

    describe("lock", () => {
      /** Takes the lock on `k`, expects it granted and resolves its release. */
      const granted = async (k: string, ttlMs = afterTtl * 10): Promise<LockRelease> => {
        const release = await store.lock(k, ttlMs);
        expect(release).toBeTypeOf("function");
        return release as LockRelease;
      };

      it("is exclusive: a second lock resolves null while the first is held", async () => {
        const k = key("lock");
        const release = await granted(k);
        expect(await store.lock(k, afterTtl * 10)).toBeNull();
        expect(await release()).toBe(true);
      });

      it("can be taken again after release; a second release resolves false", async () => {
        const k = key("lock-again");
        const first = await store.lock(k, afterTtl * 10);
        expect(await first!()).toBe(true);
        expect(await first!()).toBe(false);
        const second = await granted(k);
        expect(await second()).toBe(true);
      });

      it("frees itself after ttlMs", async () => {
        const k = key("lock-ttl");
        await granted(k, ttl);
        await sleep(afterTtl);
        const next = await granted(k);
        expect(await next()).toBe(true);
      });

      it("a stale release after expiry and re-acquisition does not free the new holder's lock", async () => {
        const k = key("lock-stale");
        const stale = await granted(k, ttl);
        await sleep(afterTtl);
        const current = await granted(k);
        expect(await stale()).toBe(false);
        expect(await store.lock(k, afterTtl * 10)).toBeNull();
        expect(await current()).toBe(true);
      });

      it("a release after expiry resolves false", async () => {
        const k = key("lock-expired-release");
        const release = await store.lock(k, ttl);
        await sleep(afterTtl);
        expect(await release!()).toBe(false);
      });

      it("locks on different keys are independent", async () => {
        const a = await granted(key("lock-a"));
        const b = await granted(key("lock-b"));
        expect(await a()).toBe(true);
        expect(await b()).toBe(true);
      });

      it(`exactly one of ${concurrency} concurrent lock calls wins`, async () => {
        const k = key("lock-race");
        const results = await Promise.all(Array.from({ length: concurrency }, () => store.lock(k, afterTtl * 10)));
        const winners = results.filter((r) => r !== null);
        expect(winners).toHaveLength(1);
        expect(await winners[0]!()).toBe(true);
      });

      it("rejects a ttlMs that is not a positive number", async () => {
        const k = key("lock-bad-ttl");
        await expect(store.lock(k, 0)).rejects.toThrow(/ttl/i);
        await expect(store.lock(k, -1)).rejects.toThrow(/ttl/i);
      });
    });

    describe("wrong type", () => {
      const expectWrongType = async (promise: Promise<unknown>, k: string): Promise<void> => {
        const error = await promise.then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(error, `expected an operation on "${k}" to reject`).toBeInstanceOf(Error);
        expect((error as Error).message).toMatch(/type|kind/i);
        expect((error as Error).message).toContain(k);
      };

      it("list and set operations on a plain value reject with a clear error", async () => {
        const k = key("wt-value");
        await store.set(k, "plain");
        await expectWrongType(store.listPush(k, 1), k);
        await expectWrongType(store.listRange(k, 0, -1), k);
        await expectWrongType(store.setAdd(k, "m"), k);
        await expectWrongType(store.setRem(k, "m"), k);
        await expectWrongType(store.setMembers(k), k);
        expect(await store.get(k)).toBe("plain");
      });

      it("value and set operations on a list reject with a clear error", async () => {
        const k = key("wt-list");
        await store.listPush(k, 1);
        await expectWrongType(store.get(k), k);
        await expectWrongType(store.incr(k), k);
        await expectWrongType(store.decr(k), k);
        await expectWrongType(store.setAdd(k, "m"), k);
        await expectWrongType(store.setMembers(k), k);
        expect(await store.listRange(k, 0, -1)).toEqual([1]);
      });

      it("value and list operations on a set reject with a clear error", async () => {
        const k = key("wt-set");
        await store.setAdd(k, "m");
        await expectWrongType(store.get(k), k);
        await expectWrongType(store.incr(k), k);
        await expectWrongType(store.listPush(k, 1), k);
        await expectWrongType(store.listRange(k, 0, -1), k);
        expect(await store.setMembers(k)).toEqual(["m"]);
      });
    });

    describe("close", () => {
      it("is idempotent", async () => {
        const own = await factory();
        const k = key("close");
        await own.set(k, 1);
        expect(await own.get(k)).toBe(1);
        await own.del(k);
        await expect(own.close?.()).resolves.toBeUndefined();
        await expect(own.close?.()).resolves.toBeUndefined();
      });
    });
  });
}
