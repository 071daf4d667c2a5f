import { LolyError } from "@loly-rt/core";
import type { JsonValue } from "@loly-rt/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createMemoryStateStore } from "./index.js";
import type { MemoryStateStore } from "./index.js";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(10);
  }
}

const open: MemoryStateStore[] = [];
function store(options?: Parameters<typeof createMemoryStateStore>[0]): MemoryStateStore {
  const s = createMemoryStateStore(options);
  open.push(s);
  return s;
}

/** Sets each [key, value] in turn, each write done before the next. */
async function setEach(s: MemoryStateStore, ...entries: [key: string, value: JsonValue][]): Promise<void> {
  for (const [key, value] of entries) await s.set(key, value);
}

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(open.splice(0).map((s) => s.close()));
});

describe("createMemoryStateStore options", () => {
  it.each([0, -1, 1.5, Number.NaN])("rejects maxKeys %s", (maxKeys) => {
    expect(() => createMemoryStateStore({ maxKeys })).toThrow(/maxKeys must be a positive integer/);
  });

  it.each([0, -10, Infinity])("rejects sweepIntervalMs %s", (sweepIntervalMs) => {
    expect(() => createMemoryStateStore({ sweepIntervalMs })).toThrow(/sweepIntervalMs must be a positive number/);
  });
});

describe("LRU bound (maxKeys)", () => {
  it("evicts the least recently written key when full", async () => {
    const s = store({ maxKeys: 3 });
    await setEach(s, ["a", 1], ["b", 2], ["c", 3], ["d", 4]);
    expect(s.size).toBe(3);
    expect(await s.get("a")).toBeNull();
    expect(await s.get("b")).toBe(2);
    expect(await s.get("d")).toBe(4);
  });

  it("counts reads and writes of every kind as a use", async () => {
    const s = store({ maxKeys: 4 });
    await s.set("value", 1);
    await s.listPush("list", 1);
    await s.setAdd("set", "m");
    await s.incr("counter");
    // Use, oldest first: value, list, set, counter. Touch all but "list".
    await s.get("value");
    await s.setAdd("set", "n");
    await s.incr("counter");
    await s.set("new", true);
    expect(await s.listRange("list", 0, -1)).toEqual([]);
    expect(await s.get("value")).toBe(1);
    expect((await s.setMembers("set")).sort()).toEqual(["m", "n"]);
    expect(await s.get("counter")).toBe(2);
    expect(await s.get("new")).toBe(true);
    expect(s.size).toBe(4);
  });

  it("does not evict when an existing key is overwritten", async () => {
    const s = store({ maxKeys: 2 });
    await setEach(s, ["a", 1], ["b", 2], ["a", 10], ["b", 20]);
    expect(s.size).toBe(2);
    expect(await s.get("a")).toBe(10);
    expect(await s.get("b")).toBe(20);
  });

  it("reclaims expired keys before evicting a live one", async () => {
    const s = store({ maxKeys: 2 });
    await s.set("live", 1);
    await s.set("short", 2, { ttlMs: 20 });
    await sleep(60);
    await s.set("new", 3);
    expect(await s.get("live")).toBe(1);
    expect(await s.get("new")).toBe(3);
    expect(s.size).toBe(2);
  });

  it("keeps at most maxKeys under many writes", async () => {
    const s = store({ maxKeys: 50 });
    for (let i = 0; i < 1000; i++) await s.set(`k${i}`, i, i % 2 === 0 ? { ttlMs: 60_000 } : undefined);
    expect(s.size).toBe(50);
    expect(await s.get("k999")).toBe(999);
    expect(await s.get("k949")).toBeNull();
    expect(await s.get("k950")).toBe(950);
  });

  it("locks do not count towards maxKeys", async () => {
    const s = store({ maxKeys: 1 });
    await s.set("a", 1);
    const release = await s.lock("l1", 60_000);
    const release2 = await s.lock("l2", 60_000);
    expect(release).toBeTypeOf("function");
    expect(release2).toBeTypeOf("function");
    expect(await s.get("a")).toBe(1);
    expect(s.size).toBe(1);
  });
});

describe("expiry and memory", () => {
  it("the sweep reclaims expired keys that are never read again", async () => {
    const s = store({ sweepIntervalMs: 20 });
    for (let i = 0; i < 100; i++) await s.set(`ttl:${i}`, { i }, { ttlMs: 30 });
    await s.set("forever", 1);
    expect(s.size).toBe(101);
    await eventually(() => s.size === 1);
    expect(await s.get("forever")).toBe(1);
  });

  it("a key re-set without TTL is not reclaimed by its old deadline", async () => {
    const s = store({ sweepIntervalMs: 10 });
    await s.set("k", 1, { ttlMs: 20 });
    await s.set("k", 2);
    await sleep(80);
    expect(s.size).toBe(1);
    expect(await s.get("k")).toBe(2);
  });

  it("an expired key is reclaimed when accessed, before any sweep", async () => {
    const s = store({ sweepIntervalMs: 60_000 });
    await s.set("k", 1, { ttlMs: 20 });
    await sleep(50);
    expect(s.size).toBe(1);
    expect(await s.get("k")).toBeNull();
    expect(s.size).toBe(0);
  });

  it("size counts plain values, lists and sets; del lowers it", async () => {
    const s = store();
    expect(s.size).toBe(0);
    await s.set("v", "x");
    await s.listPush("l", 1);
    await s.listPush("l", 2);
    await s.setAdd("s", "a");
    await s.incr("c");
    expect(s.size).toBe(4);
    await s.del("l");
    expect(s.size).toBe(3);
    await s.setRem("s", "a");
    expect(s.size).toBe(2);
  });
});

// JSON semantics are part of the conformance suite (memory-store.conformance.test.ts); what
// follows is what only the memory store can show or promise.
describe("values", () => {
  it("a value JSON cannot hold takes no room", async () => {
    const s = store();
    await expect(s.set("k", undefined as unknown as JsonValue)).rejects.toThrow(/values must be JSON/);
    await expect(s.listPush("k", (() => 1) as unknown as JsonValue)).rejects.toThrow(/values must be JSON/);
    await expect(s.set("k", { big: 1n } as unknown as JsonValue)).rejects.toThrow(TypeError);
    expect(s.size).toBe(0);
  });

  it("incr refuses to leave the safe integer range", async () => {
    const s = store();
    await s.set("k", Number.MAX_SAFE_INTEGER);
    await expect(s.incr("k")).rejects.toThrow(/safe integer/);
    expect(await s.get("k")).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe("close", () => {
  it("stops the sweep timer", async () => {
    const setSpy = vi.spyOn(globalThis, "setInterval");
    const clearSpy = vi.spyOn(globalThis, "clearInterval");
    const s = createMemoryStateStore({ sweepIntervalMs: 1000 });
    const timer = setSpy.mock.results[0]?.value as unknown;
    expect(timer).toBeDefined();
    await s.close();
    expect(clearSpy).toHaveBeenCalledWith(timer);
    await s.close();
    expect(clearSpy).toHaveBeenCalledTimes(1);
  });

  it("frees every key, and later calls reject with UNAVAILABLE", async () => {
    const s = createMemoryStateStore();
    await s.set("k", 1);
    await s.close();
    expect(s.size).toBe(0);
    const error = await s.get("k").catch((err: unknown) => err);
    expect(LolyError.is(error)).toBe(true);
    expect((error as LolyError).code).toBe("UNAVAILABLE");
    await expect(s.incr("k")).rejects.toThrow(/after close/);
    await expect(s.lock("k", 100)).rejects.toThrow(/after close/);
  });
});
