import { describe, expect, it } from "vitest";
import { TokenBucket, bucketSpec, monotonicNow } from "./bucket.js";

describe("bucketSpec", () => {
  it("uses burst as capacity and eventsPerSecond as refill", () => {
    expect(bucketSpec({ eventsPerSecond: 5, burst: 10 })).toEqual({ capacity: 10, refillPerSecond: 5 });
  });

  it("defaults capacity to eventsPerSecond rounded up, at least 1", () => {
    expect(bucketSpec({ eventsPerSecond: 30 })).toEqual({ capacity: 30, refillPerSecond: 30 });
    expect(bucketSpec({ eventsPerSecond: 2.5 })).toEqual({ capacity: 3, refillPerSecond: 2.5 });
    expect(bucketSpec({ eventsPerSecond: 0.2 })).toEqual({ capacity: 1, refillPerSecond: 0.2 });
  });

  it("rejects a rate that is not > 0 and a burst below 1, naming the key", () => {
    expect(() => bucketSpec({ eventsPerSecond: 0 })).toThrow(/eventsPerSecond/);
    expect(() => bucketSpec({ eventsPerSecond: -1 })).toThrow(/eventsPerSecond/);
    expect(() => bucketSpec({ eventsPerSecond: Number.NaN })).toThrow(/eventsPerSecond/);
    expect(() => bucketSpec({ eventsPerSecond: 1, burst: 0 })).toThrow(/burst/);
  });
});

describe("TokenBucket", () => {
  const spec = { capacity: 5, refillPerSecond: 2 }; // one token every 500 ms

  it("admits a burst of `capacity`, then refuses", () => {
    const b = new TokenBucket(spec, 0);
    for (let i = 0; i < 5; i++) {
      expect(b.take(1, 0)).toBe(true);
      expect(b.remaining).toBe(4 - i);
    }
    expect(b.take(1, 0)).toBe(false);
    expect(b.remaining).toBe(0);
  });

  it("refills at refillPerSecond and retryAfterMs is the wait for one token, rounded up", () => {
    const b = new TokenBucket(spec, 0);
    for (let i = 0; i < 5; i++) b.take(1, 0);
    expect(b.take(1, 100)).toBe(false);
    expect(b.retryAfterMs()).toBe(400);
    expect(b.take(1, 499)).toBe(false);
    expect(b.retryAfterMs()).toBe(1);
    expect(b.take(1, 500)).toBe(true);
    expect(b.take(1, 500)).toBe(false);
    expect(b.retryAfterMs()).toBe(500);
  });

  it("rounds retryAfterMs up and waiting exactly that long admits", () => {
    const b = new TokenBucket({ capacity: 1, refillPerSecond: 3 }, 0);
    expect(b.take(1, 0)).toBe(true);
    expect(b.take(1, 0)).toBe(false);
    const wait = b.retryAfterMs();
    expect(wait).toBe(334); // 1000 / 3 = 333.33...
    expect(b.take(1, wait - 1)).toBe(false);
    expect(b.take(1, wait)).toBe(true);
  });

  it("never holds more than capacity, however long it idles", () => {
    const b = new TokenBucket(spec, 0);
    b.take(1, 0);
    let admitted = 0;
    while (b.take(1, 3_600_000)) admitted++;
    expect(admitted).toBe(5);
  });

  it("takes a cost > 1 only when that many tokens are there, and waits for all of them", () => {
    const b = new TokenBucket(spec, 0);
    expect(b.take(3, 0)).toBe(true);
    expect(b.remaining).toBe(2);
    expect(b.take(3, 0)).toBe(false);
    expect(b.remaining).toBe(2); // a refusal takes nothing
    expect(b.retryAfterMs(3)).toBe(500);
    expect(b.take(3, 500)).toBe(true);
    expect(b.remaining).toBe(0);
  });

  it("never admits a cost above capacity", () => {
    const b = new TokenBucket(spec, 0);
    expect(b.take(6, 0)).toBe(false);
    expect(b.take(6, 10_000_000)).toBe(false);
    expect(b.remaining).toBe(5);
  });

  it("admits exactly capacity + refill over a long run of constant pressure", () => {
    const b = new TokenBucket({ capacity: 10, refillPerSecond: 100 }, 0);
    let admitted = 0;
    for (let t = 0; t <= 1000; t += 0.25) if (b.take(1, t)) admitted++;
    // 10 at start + 100 per second over one second
    expect(admitted).toBe(110);
  });

  it("ignores a clock reading from the past", () => {
    const b = new TokenBucket(spec, 1000);
    for (let i = 0; i < 5; i++) b.take(1, 1000);
    expect(b.take(1, 0)).toBe(false);
    expect(b.take(1, 1499)).toBe(false);
    expect(b.take(1, 1500)).toBe(true);
  });

  it("decide() answers the contract's decision", () => {
    const b = new TokenBucket({ capacity: 1, refillPerSecond: 1 }, 0);
    expect(b.decide(1, 0)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    expect(b.decide(1, 250)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 750 });
  });

  it("isFull() is true once the bucket has refilled completely", () => {
    const b = new TokenBucket(spec, 0);
    expect(b.isFull(0)).toBe(true);
    b.take(2, 0);
    expect(b.isFull(999)).toBe(false);
    expect(b.isFull(1000)).toBe(true);
  });

  it("respec() changes the parameters and caps the tokens held", () => {
    const b = new TokenBucket({ capacity: 10, refillPerSecond: 1 }, 0);
    b.respec({ capacity: 3, refillPerSecond: 10 }, 0);
    expect(b.capacity).toBe(3);
    expect(b.refillPerSecond).toBe(10);
    expect(b.remaining).toBe(3);
  });

  it("runs on the monotonic clock by default", () => {
    const before = monotonicNow();
    const b = new TokenBucket({ capacity: 2, refillPerSecond: 0.001 });
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    expect(b.retryAfterMs()).toBeGreaterThan(999_000);
    expect(monotonicNow()).toBeGreaterThanOrEqual(before);
  });
});
