import type { Redis } from "ioredis";
import { afterAll, describe, expect, it, vi } from "vitest";
import { testRedis } from "../../../tests/setup/redis.js";
import { RedisClock } from "./clock.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const redis = testRedis();
afterAll(() => void redis.disconnect());

async function redisMs(): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Number(us) / 1000;
}

/** A client whose TIME answers `reply` after `delayMs`. */
function fakeClient(delayMs: number, reply: () => Promise<[string, string]>): Redis {
  return { time: () => sleep(delayMs).then(reply) } as unknown as Redis;
}

describe("RedisClock", () => {
  it("reads Redis's clock, whatever the host's clock says", async () => {
    await redis.ping(); // connected: the sample's round trip is one command's
    const clock = new RedisClock(100);
    expect(clock.now()).toBeUndefined();
    const skewed = vi.spyOn(Date, "now").mockImplementation(() => 3_600_000);
    try {
      clock.sync(redis, 0, (err) => expect.fail(String(err)));
      await vi.waitFor(() => expect(clock.now()).toBeDefined());
    } finally {
      skewed.mockRestore();
    }
    const before = await redisMs();
    const ours = clock.now() as number;
    const after = await redisMs();
    expect(ours).toBeGreaterThanOrEqual(before - 5);
    expect(ours).toBeLessThanOrEqual(after + 5);
  });

  it("ignores a sample whose round trip is too long, and samples again only after everyMs", async () => {
    let calls = 0;
    const slow = fakeClient(60, async () => {
      calls++;
      return ["100", "0"];
    });
    const clock = new RedisClock(20);
    clock.sync(slow, 0, () => undefined);
    clock.sync(slow, 0, () => undefined); // one sample at a time
    await sleep(100);
    expect(calls).toBe(1);
    expect(clock.now()).toBeUndefined();

    const fast = fakeClient(0, async () => {
      calls++;
      return ["100", "500000"];
    });
    const asked = performance.now();
    clock.sync(fast, 0, () => undefined);
    await vi.waitFor(() => expect(clock.now()).toBeDefined());
    // 100.5 s on Redis's clock at the sample, running on since.
    const drift = (clock.now() as number) - 100_500;
    expect(drift).toBeGreaterThanOrEqual(-1);
    expect(drift).toBeLessThanOrEqual(performance.now() - asked + 1);
    clock.sync(fast, 60_000, () => undefined);
    await sleep(10);
    expect(calls).toBe(2);
  });

  it("reports a failed sample and never rejects", async () => {
    const errors: unknown[] = [];
    const clock = new RedisClock(20);
    clock.sync(
      fakeClient(0, () => Promise.reject(new Error("NOPERM"))),
      0,
      (err) => errors.push(err),
    );
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    expect(clock.now()).toBeUndefined();
  });
});
