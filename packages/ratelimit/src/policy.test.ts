import { createServer, type Server, type Socket } from "node:net";
import { Redis } from "ioredis";
import type { RateLimitBackend, RateLimitDecision, TokenBucketSpec } from "@loly-rt/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryRateLimitBackend } from "./memory.js";
import { withStorePolicy } from "./policy.js";
import { createRedisRateLimitBackend } from "./redis.js";
import { useSuiteRedis } from "./testing/redis.js";

const spec: TokenBucketSpec = { capacity: 2, refillPerSecond: 0.01 };

function listen(server: Server): Promise<number> {
  return new Promise((done) => {
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      done(typeof addr === "object" && addr ? addr.port : 0);
    });
  });
}

async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** A backend over a real memory backend that fails (rejects) while `down` is true. */
function flaky(): RateLimitBackend & { down: boolean; pending: Array<() => void> } {
  const inner = createMemoryRateLimitBackend();
  const backend = {
    local: false as const,
    down: false,
    pending: [] as Array<() => void>,
    consume(key: string, bucket: TokenBucketSpec, cost?: number): Promise<RateLimitDecision> {
      if (backend.down) return Promise.reject(new Error("store down"));
      return Promise.resolve(inner.consume(key, bucket, cost));
    },
    reset(key: string): Promise<void> {
      if (backend.down) return Promise.reject(new Error("store down"));
      inner.reset(key);
      return Promise.resolve();
    },
    close: () => inner.close(),
  };
  return backend;
}

describe("withStorePolicy", () => {
  describe("with Redis on a closed port", () => {
    let redis: Redis;

    beforeAll(async () => {
      redis = new Redis({
        host: "127.0.0.1",
        port: await closedPort(),
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      redis.on("error", () => undefined);
    });

    afterAll(() => {
      redis.disconnect();
    });

    it("`allow` admits, within the timeout, and reports the outage once", async () => {
      const outages: unknown[] = [];
      const limiter = withStorePolicy(createRedisRateLimitBackend({ redis }), {
        onStoreError: "allow",
        timeoutMs: 500,
        onOutage: (err) => outages.push(err),
      });
      expect(limiter.local).toBe(false);
      const t0 = performance.now();
      const decisions = await Promise.all(Array.from({ length: 50 }, () => limiter.consume("k", spec)));
      for (let i = 0; i < 20; i++) decisions.push(await limiter.consume("k", spec));
      expect(performance.now() - t0).toBeLessThan(5000);
      for (const d of decisions) expect(d).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
      expect(outages).toHaveLength(1);
      expect(outages[0]).toBeInstanceOf(Error);
      expect(limiter.outage).toBe(true);
    });

    it("`deny` refuses with retryAfterMs about a second", async () => {
      let outages = 0;
      const limiter = withStorePolicy(createRedisRateLimitBackend({ redis }), {
        onStoreError: "deny",
        timeoutMs: 500,
        onOutage: () => outages++,
      });
      const decisions = await Promise.all(Array.from({ length: 30 }, () => limiter.consume("k", spec)));
      for (const d of decisions) expect(d).toEqual({ allowed: false, remaining: 0, retryAfterMs: 1000 });
      expect(outages).toBe(1);
    });

    it("reset() settles without rejecting", async () => {
      const limiter = withStorePolicy(createRedisRateLimitBackend({ redis }), { onStoreError: "deny", timeoutMs: 500 });
      await expect(limiter.reset("k")).resolves.toBeUndefined();
      expect(limiter.outage).toBe(true);
    });
  });

  describe("with a Redis that never answers", () => {
    let server: Server;
    const sockets = new Set<Socket>();
    let redis: Redis;

    beforeAll(async () => {
      server = createServer((socket) => {
        sockets.add(socket); // accept, read, never reply
        socket.on("error", () => undefined);
      });
      const port = await listen(server);
      redis = new Redis({ host: "127.0.0.1", port, enableReadyCheck: false, maxRetriesPerRequest: 0 });
      redis.on("error", () => undefined);
    });

    afterAll(async () => {
      redis.disconnect();
      for (const s of sockets) s.destroy();
      await new Promise<void>((done) => server.close(() => done()));
    });

    it("answers with the policy once the timeout passes", async () => {
      let outages = 0;
      const timeoutMs = 200;
      const limiter = withStorePolicy(createRedisRateLimitBackend({ redis }), {
        onStoreError: "deny",
        timeoutMs,
        denyRetryAfterMs: 2500,
        onOutage: () => outages++,
      });
      const t0 = performance.now();
      const decisions = await Promise.all(Array.from({ length: 20 }, () => limiter.consume("k", spec)));
      const elapsed = performance.now() - t0;
      for (const d of decisions) expect(d).toEqual({ allowed: false, remaining: 0, retryAfterMs: 2500 });
      expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 5);
      expect(elapsed).toBeLessThan(timeoutMs + 2000);
      expect(outages).toBe(1);
    });
  });

  describe("with a working Redis", () => {
    const db = useSuiteRedis("ratelimit-policy");
    const { prefix } = db;

    it("passes real decisions through and reports no outage", async () => {
      let outages = 0;
      const limiter = withStorePolicy(createRedisRateLimitBackend({ redis: db.redis, prefix }), {
        onStoreError: "allow",
        timeoutMs: 3000,
        onOutage: () => outages++,
      });
      expect(await limiter.consume("k", spec)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
      expect(await limiter.consume("k", spec)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
      const refused = await limiter.consume("k", spec);
      expect(refused.allowed).toBe(false);
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      await limiter.reset("k");
      expect(await db.redis.exists(`${prefix}rl:k`)).toBe(0);
      expect(outages).toBe(0);
      expect(limiter.outage).toBe(false);
    });
  });

  describe("outage and recovery", () => {
    it("calls onOutage once per outage and onRecover when decisions succeed again", async () => {
      const backend = flaky();
      const events: string[] = [];
      const limiter = withStorePolicy(backend, {
        onStoreError: "deny",
        timeoutMs: 1000,
        onOutage: () => events.push("outage"),
        onRecover: () => events.push("recover"),
      });

      expect(await limiter.consume("k", spec)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
      backend.down = true;
      for (let i = 0; i < 25; i++) expect((await limiter.consume("k", spec)).allowed).toBe(false);
      await limiter.reset("k");
      expect(events).toEqual(["outage"]);
      expect(limiter.outage).toBe(true);

      backend.down = false;
      expect(await limiter.consume("k", spec)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
      expect(await limiter.consume("k", spec)).toMatchObject({ allowed: false, remaining: 0 });
      expect(events).toEqual(["outage", "recover"]);
      expect(limiter.outage).toBe(false);

      backend.down = true;
      await Promise.all(Array.from({ length: 10 }, () => limiter.consume("k", spec)));
      backend.down = false;
      await limiter.consume("other", spec);
      expect(events).toEqual(["outage", "recover", "outage", "recover"]);
    });

    it("does not open a new outage for a late failure of a call started before the recovery", async () => {
      const events: string[] = [];
      const settle: Array<(ok: boolean) => void> = [];
      const backend: RateLimitBackend = {
        local: false,
        consume: () =>
          new Promise<RateLimitDecision>((done, fail) => {
            settle.push((ok) => (ok ? done({ allowed: true, remaining: 0, retryAfterMs: 0 }) : fail(new Error("down"))));
          }),
        reset: () => undefined,
      };
      const limiter = withStorePolicy(backend, {
        onStoreError: "allow",
        timeoutMs: 5000,
        onOutage: () => events.push("outage"),
        onRecover: () => events.push("recover"),
      });
      const slow = limiter.consume("k", spec); // started during the outage, fails late
      const failing = limiter.consume("k", spec);
      settle[1]?.(false);
      await failing;
      const ok = limiter.consume("k", spec);
      settle[2]?.(true);
      await ok;
      settle[0]?.(false);
      await slow;
      expect(events).toEqual(["outage", "recover"]);
      expect(limiter.outage).toBe(false);
    });

    it("treats a synchronous throw like a failure, and a throwing callback changes nothing", () => {
      const limiter = withStorePolicy(
        {
          local: true,
          consume: () => {
            throw new Error("boom");
          },
          reset: () => {
            throw new Error("boom");
          },
        },
        {
          onStoreError: "allow",
          timeoutMs: 100,
          onOutage: () => {
            throw new Error("callback bug");
          },
        },
      );
      expect(limiter.consume("k", spec)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
      expect(limiter.reset("k")).toBeUndefined();
      expect(limiter.outage).toBe(true);
    });

    it("refuses an unknown policy, naming it", () => {
      const inner = createMemoryRateLimitBackend();
      expect(() => withStorePolicy(inner, { onStoreError: "ignore" as "allow", timeoutMs: 100 })).toThrow(/onStoreError.*"ignore"/);
    });

    it("keeps a local backend synchronous", async () => {
      const inner = createMemoryRateLimitBackend();
      const limiter = withStorePolicy(inner, { onStoreError: "deny", timeoutMs: 100 });
      expect(limiter.local).toBe(true);
      const d = limiter.consume("k", spec);
      expect(d).not.toBeInstanceOf(Promise);
      expect(d).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
      limiter.reset("k");
      expect(inner.size).toBe(0);
      await limiter.close();
    });
  });
});
