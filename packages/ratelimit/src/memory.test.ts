import { afterEach, describe, expect, it, vi } from "vitest";
import { createMemoryRateLimitBackend, type MemoryRateLimitBackend } from "./memory.js";

const spec = { capacity: 3, refillPerSecond: 10 }; // one token every 100 ms

describe("createMemoryRateLimitBackend", () => {
  let clock = 0;
  const backends: MemoryRateLimitBackend[] = [];
  const make = (opts: { sweepIntervalMs?: number; realClock?: boolean } = {}): MemoryRateLimitBackend => {
    const b = createMemoryRateLimitBackend({
      sweepIntervalMs: opts.sweepIntervalMs,
      ...(opts.realClock ? {} : { now: () => clock }),
    });
    backends.push(b);
    return b;
  };
  /** A backend on the test clock whose bucket "a" has spent every token. */
  const drained = (): MemoryRateLimitBackend => {
    const b = make();
    for (let i = 0; i < spec.capacity; i++) b.consume("a", spec);
    return b;
  };

  afterEach(async () => {
    clock = 0;
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });

  it("is local and answers synchronously", () => {
    const limiter = make();
    expect(limiter.local).toBe(true);
    const d = limiter.consume("a", spec);
    expect(d).not.toBeInstanceOf(Promise);
    expect(d).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
  });

  it("admits the burst, refuses with retryAfterMs, refills", () => {
    const limiter = make();
    expect(limiter.consume("a", spec).allowed).toBe(true);
    expect(limiter.consume("a", spec).allowed).toBe(true);
    expect(limiter.consume("a", spec)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    clock = 30;
    expect(limiter.consume("a", spec)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 70 });
    clock = 100;
    expect(limiter.consume("a", spec)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
  });

  it("keeps one bucket per key", () => {
    const limiter = drained();
    expect(limiter.consume("a", spec).allowed).toBe(false);
    expect(limiter.consume("b", spec)).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
    expect(limiter.size).toBe(2);
  });

  it("takes a cost > 1", () => {
    const limiter = make();
    expect(limiter.consume("a", spec, 2)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
    expect(limiter.consume("a", spec, 2)).toEqual({ allowed: false, remaining: 1, retryAfterMs: 100 });
  });

  it("follows a changed spec for an existing key", () => {
    const limiter = drained();
    const slower = { capacity: 3, refillPerSecond: 1 };
    clock = 100; // one token back at the old rate
    expect(limiter.consume("a", slower).allowed).toBe(true);
    clock = 200;
    expect(limiter.consume("a", slower)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 900 });
  });

  it("reset(key) forgets the bucket: it reads full again and the map shrinks", () => {
    const limiter = drained();
    expect(limiter.consume("a", spec).allowed).toBe(false);
    limiter.reset("a");
    expect(limiter.size).toBe(0);
    expect(limiter.consume("a", spec)).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
  });

  it("sweep() drops only the buckets that are full again", () => {
    const limiter = make();
    for (let i = 0; i < 1000; i++) limiter.consume(`k${i}`, spec);
    for (let i = 0; i < 3; i++) limiter.consume("busy", { capacity: 3, refillPerSecond: 0.1 });
    expect(limiter.size).toBe(1001);
    clock = 99;
    expect(limiter.sweep()).toBe(0);
    clock = 100;
    expect(limiter.sweep()).toBe(1000);
    expect(limiter.size).toBe(1);
    clock = 30_000;
    expect(limiter.sweep()).toBe(1);
    expect(limiter.size).toBe(0);
  });

  it("reclaims idle buckets by itself on its sweep timer", async () => {
    const limiter = make({ sweepIntervalMs: 20, realClock: true });
    const fast = { capacity: 2, refillPerSecond: 100 }; // full again 20 ms after use
    for (let i = 0; i < 500; i++) {
      limiter.consume(`socket:${i}`, fast);
      limiter.consume(`socket:${i}`, fast);
    }
    expect(limiter.size).toBe(500);
    const deadline = Date.now() + 5000;
    while (limiter.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(limiter.size).toBe(0);
  });

  it("runs an unref'd sweep timer only while buckets exist; close() stops it", async () => {
    const setSpy = vi.spyOn(globalThis, "setInterval");
    const clearSpy = vi.spyOn(globalThis, "clearInterval");
    try {
      const limiter = make({ sweepIntervalMs: 10 });
      expect(setSpy).not.toHaveBeenCalled();
      limiter.consume("a", spec);
      limiter.consume("b", spec);
      expect(setSpy).toHaveBeenCalledTimes(1);
      const timer = setSpy.mock.results[0]?.value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false);
      limiter.reset("a");
      expect(clearSpy).not.toHaveBeenCalled();
      limiter.reset("b"); // empty: no timer left
      expect(clearSpy).toHaveBeenCalledWith(timer);
      limiter.consume("c", spec);
      expect(setSpy).toHaveBeenCalledTimes(2);
      const second = setSpy.mock.results[1]?.value as NodeJS.Timeout;
      await limiter.close();
      await limiter.close(); // idempotent
      expect(clearSpy).toHaveBeenLastCalledWith(second);
      expect(limiter.size).toBe(0);
    } finally {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    }
  });

  it("rejects a sweep interval that is not > 0", () => {
    expect(() => createMemoryRateLimitBackend({ sweepIntervalMs: 0 })).toThrow(/sweepIntervalMs/);
  });
});
