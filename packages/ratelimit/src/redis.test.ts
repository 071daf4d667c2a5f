import { spawn, type ChildProcess } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { deleteKeys, redisUrl, testPrefix, testRedis } from "../../../tests/setup/redis.js";
import { spawnTsFixture } from "../../../tests/setup/child.js";
import { freePort, startRedisServer, stopRedisServer } from "../../../tests/setup/redis-server.js";
import { TOKEN_BUCKET_SCRIPT, TOKEN_BUCKET_SHA, createRedisRateLimitBackend } from "./redis.js";
import { useSuiteRedis } from "./testing/redis.js";

const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const hasRedisServer = await new Promise<boolean>((done) => {
  const probe = spawn("redis-server", ["--version"], { stdio: "ignore" });
  probe.once("error", () => done(false));
  probe.once("exit", (code) => done(code === 0));
});

describe("createRedisRateLimitBackend", () => {
  const db = useSuiteRedis("ratelimit");
  const { prefix } = db;

  // biome-ignore lint/suspicious/noTemplateCurlyInString: the name shows the key layout
  it("is not local and keeps buckets under `${prefix}rl:` (default prefix loly:)", () => {
    expect(createRedisRateLimitBackend({ redis: db.redis }).keyPrefix).toBe("loly:rl:");
    const limiter = createRedisRateLimitBackend({ redis: db.redis, prefix });
    expect(limiter.local).toBe(false);
    expect(limiter.keyPrefix).toBe(`${prefix}rl:`);
  });

  it("admits the burst, refuses with retryAfterMs, then refills", async () => {
    const limiter = createRedisRateLimitBackend({ redis: db.redis, prefix });
    const spec = { capacity: 3, refillPerSecond: 10 };
    expect(await limiter.consume("burst", spec)).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
    expect(await limiter.consume("burst", spec)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
    expect(await limiter.consume("burst", spec)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    const refused = await limiter.consume("burst", spec);
    expect(refused.allowed).toBe(false);
    expect(refused.remaining).toBe(0);
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(100);
    await sleep(refused.retryAfterMs + 5);
    expect((await limiter.consume("burst", spec)).allowed).toBe(true);
  });

  it("reads the same decisions through a client that answers integers as strings (stringNumbers)", async () => {
    const stringy = new Redis(redisUrl(), { stringNumbers: true });
    try {
      const limiter = createRedisRateLimitBackend({ redis: stringy, prefix });
      const spec = { capacity: 2, refillPerSecond: 0.01 };
      expect(await limiter.consume("strings", spec)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
      expect(await limiter.consume("strings", spec)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
      const refused = await limiter.consume("strings", spec);
      expect(refused.allowed).toBe(false);
      expect(refused.remaining).toBe(0);
      expect(typeof refused.retryAfterMs).toBe("number");
      expect(refused.retryAfterMs).toBeGreaterThan(99_000);
    } finally {
      stringy.disconnect();
    }
  });

  it("takes a cost > 1 and never admits a cost above capacity", async () => {
    const limiter = createRedisRateLimitBackend({ redis: db.redis, prefix });
    const spec = { capacity: 5, refillPerSecond: 0.01 };
    expect(await limiter.consume("cost", spec, 3)).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
    const refused = await limiter.consume("cost", spec, 3);
    expect(refused.allowed).toBe(false);
    expect(refused.remaining).toBe(2);
    // one missing token at 0.01/s: about 100 s
    expect(refused.retryAfterMs).toBeGreaterThan(99_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(100_000);
    expect(await limiter.consume("cost", spec, 2)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    expect((await limiter.consume("cost-big", spec, 6)).allowed).toBe(false);
    expect(await db.redis.exists(`${prefix}rl:cost-big`)).toBe(0);
  });

  it("never holds more than capacity, however long it idles", async () => {
    const limiter = createRedisRateLimitBackend({ redis: db.redis, prefix });
    const spec = { capacity: 2, refillPerSecond: 20 };
    await limiter.consume("cap", spec);
    await limiter.consume("cap", spec);
    await sleep(300); // 6 tokens' worth of time
    const t0 = performance.now();
    const decisions = await Promise.all(Array.from({ length: 10 }, () => limiter.consume("cap", spec)));
    const refilledDuring = Math.floor(((performance.now() - t0) / 1000) * spec.refillPerSecond);
    const admitted = decisions.filter((d) => d.allowed).length;
    expect(admitted).toBeGreaterThanOrEqual(2);
    expect(admitted).toBeLessThanOrEqual(2 + refilledDuring);
  });

  it("sets an expiry on every key: 5 to 10 s after the bucket is full again", async () => {
    const limiter = createRedisRateLimitBackend({ redis: db.redis, prefix: `${prefix}ttl:` });
    await limiter.consume("a", { capacity: 10, refillPerSecond: 1 }); // 1 s to refill
    await limiter.consume("b", { capacity: 100, refillPerSecond: 1 }, 50); // 50 s
    const slow = { capacity: 1, refillPerSecond: 0.5 }; // 2 s to refill
    expect((await limiter.consume("c", slow)).allowed).toBe(true);
    const expiresAt = await db.redis.pexpiretime(`${prefix}ttl:rl:c`);
    for (let i = 0; i < 5; i++) expect((await limiter.consume("c", slow)).allowed).toBe(false);
    // Refusals write nothing, not even the expiry.
    expect(await db.redis.pexpiretime(`${prefix}ttl:rl:c`)).toBe(expiresAt);
    const keys = (await db.redis.keys(`${prefix}ttl:*`)).sort();
    expect(keys).toEqual([`${prefix}ttl:rl:a`, `${prefix}ttl:rl:b`, `${prefix}ttl:rl:c`]);
    const ttls = await Promise.all(keys.map((k) => db.redis.pttl(k)));
    for (const ttl of ttls) expect(ttl).toBeGreaterThan(0);
    expect(ttls[0]).toBeGreaterThan(1000 + 5000 - 500);
    expect(ttls[0]).toBeLessThanOrEqual(1000 + 10_000);
    expect(ttls[1]).toBeGreaterThan(50_000 + 5000 - 500);
    expect(ttls[1]).toBeLessThanOrEqual(50_000 + 10_000);
    expect(ttls[2]).toBeGreaterThan(2000 + 5000 - 500);
    expect(ttls[2]).toBeLessThanOrEqual(2000 + 10_000);
  });

  it("a busy bucket keeps its expiry within a 5 s cell and moves it only when its time crosses one", async () => {
    const limiter = createRedisRateLimitBackend({ redis: db.redis, prefix: `${prefix}grid:` });
    const key = `${prefix}grid:rl:busy`;
    // 1000 tokens at 1 per 100 ms: each admitted decision moves the full-again time 100 ms on.
    const spec = { capacity: 1000, refillPerSecond: 10 };
    const expireTimes = new Set<number>();
    const redisNow = (t: [string, string]): number => Number(t[0]) * 1000 + Number(t[1]) / 1000;
    const start = redisNow((await db.redis.time()) as unknown as [string, string]); // ioredis types TIME as numbers; it answers strings
    for (let i = 0; i < 120; i++) {
      expect((await limiter.consume("busy", spec)).allowed).toBe(true);
      const [[, tat], [, expireAt], [, time]] = (await db.redis.multi().get(key).pexpiretime(key).time().exec()) as [
        [null, string],
        [null, number],
        [null, [string, string]],
      ];
      const fullAgain = Number(tat);
      // The key outlives the moment the bucket is full again by 5 to 10 s...
      expect(expireAt).toBeGreaterThan(fullAgain + 5000 - 1);
      expect(expireAt).toBeLessThanOrEqual(fullAgain + 10_000 + 1);
      // ...and that moment is 100 ms per admitted decision ahead of Redis's clock, less the
      // time the loop has taken so far (the bucket refills meanwhile).
      const now = redisNow(time);
      expect(fullAgain - now).toBeGreaterThan((i + 1) * 100 - (now - start) - 1);
      expect(fullAgain - now).toBeLessThanOrEqual((i + 1) * 100 + 1);
      expireTimes.add(expireAt);
    }
    // 12 s of full-again time crossed two or three 5 s cells: the expiry changed that often, not 120 times.
    expect(expireTimes.size).toBeGreaterThanOrEqual(2);
    expect(expireTimes.size).toBeLessThanOrEqual(4);
  });

  it("reset(key) deletes the bucket: it reads full again", async () => {
    const limiter = createRedisRateLimitBackend({ redis: db.redis, prefix });
    const spec = { capacity: 1, refillPerSecond: 0.01 };
    await limiter.consume("reset", spec);
    expect((await limiter.consume("reset", spec)).allowed).toBe(false);
    await limiter.reset("reset");
    expect(await db.redis.exists(`${prefix}rl:reset`)).toBe(0);
    expect(await limiter.consume("reset", spec)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
  });

  it("uses the Redis clock: two backends agree, even when one process's clock is an hour off", async () => {
    expect(TOKEN_BUCKET_SCRIPT).toContain("redis.call('TIME')");
    const other = testRedis();
    try {
      const a = createRedisRateLimitBackend({ redis: db.redis, prefix });
      const b = createRedisRateLimitBackend({ redis: other, prefix });
      const spec = { capacity: 4, refillPerSecond: 0.01 };
      expect((await a.consume("clock", spec, 2)).allowed).toBe(true);
      const realDateNow = Date.now;
      const realPerfNow = performance.now.bind(performance);
      const dateSpy = vi.spyOn(Date, "now").mockImplementation(() => realDateNow() + 3_600_000);
      const perfSpy = vi.spyOn(performance, "now").mockImplementation(() => realPerfNow() + 3_600_000);
      let fromB: Awaited<ReturnType<typeof b.consume>>;
      try {
        fromB = await b.consume("clock", spec, 2);
      } finally {
        dateSpy.mockRestore();
        perfSpy.mockRestore();
      }
      // An hour of local skew would have refilled 36 tokens; the Redis clock saw milliseconds.
      expect(fromB).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
      const fromA = await a.consume("clock", spec);
      expect(fromA.allowed).toBe(false);
      expect(fromA.retryAfterMs).toBeGreaterThan(99_000);
    } finally {
      other.disconnect();
    }
  });

  it("rejects (never hangs) when Redis answers with an error", async () => {
    const limiter = createRedisRateLimitBackend({ redis: db.redis, prefix });
    await db.redis.sadd(`${prefix}rl:wrongtype`, "member"); // GET on a set fails inside the script
    await expect(limiter.consume("wrongtype", { capacity: 1, refillPerSecond: 1 })).rejects.toThrow(/WRONGTYPE/);
  });

  // On a throwaway redis-server when one can be started (its script cache is ours alone);
  // otherwise on the shared test Redis, where SCRIPT FLUSH drops cached scripts, never data.
  describe(hasRedisServer ? "on a Redis server of its own" : "on the shared Redis", () => {
    let server: ChildProcess | undefined;
    let client: Redis;
    let admin: Redis;
    let monitor: Redis;
    let ownPrefix = "";
    const seen: Array<{ source: string; command: string }> = [];

    beforeAll(async () => {
      ownPrefix = testPrefix("ratelimit-own");
      if (hasRedisServer) {
        const port = await freePort();
        server = await startRedisServer(port);
        const url = `redis://127.0.0.1:${port}`;
        client = new Redis(url, { maxRetriesPerRequest: 1 });
        admin = new Redis(url, { maxRetriesPerRequest: 1 });
      } else {
        client = testRedis();
        admin = testRedis();
      }
      monitor = await admin.monitor(); // a connection of its own
      monitor.on("monitor", (_time: string, args: string[], source: string) => {
        seen.push({ source, command: String(args[0]).toLowerCase() });
      });
    });

    afterAll(async () => {
      monitor?.disconnect();
      if (admin) await deleteKeys(ownPrefix, admin);
      client?.disconnect();
      admin?.disconnect();
      if (server) await stopRedisServer(server);
    });

    /** The commands our `client` sent (not those run inside scripts), from MONITOR. */
    async function sentByClient(run: () => Promise<void>): Promise<string[]> {
      const addr = /addr=(\S+)/.exec(String(await client.client("INFO")))?.[1] ?? "?";
      const marker = `${ownPrefix}marker`;
      // MONITOR streams asynchronously: let our own CLIENT INFO arrive before opening the window.
      const settle = Date.now() + 5000;
      while (!seen.some((c) => c.source === addr && c.command === "client") && Date.now() < settle) await sleep(5);
      seen.length = 0;
      await run();
      await client.get(marker); // MONITOR streams in order: this closes our window
      const deadline = Date.now() + 5000;
      while (!seen.some((c) => c.source === addr && c.command === "get") && Date.now() < deadline) {
        await sleep(5);
      }
      const mine = seen.filter((c) => c.source === addr).map((c) => c.command);
      return mine.slice(0, mine.lastIndexOf("get"));
    }

    it("loads the script by itself when Redis does not know it (NOSCRIPT falls back to EVAL once)", async () => {
      const limiter = createRedisRateLimitBackend({ redis: client, prefix: ownPrefix });
      const spec = { capacity: 2, refillPerSecond: 0.01 };
      await admin.script("FLUSH");
      expect(await admin.script("EXISTS", TOKEN_BUCKET_SHA)).toEqual([0]);
      const first = await sentByClient(async () => {
        expect(await limiter.consume("noscript", spec)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
      });
      expect(first).toEqual(["evalsha", "eval"]);
      expect(await admin.script("EXISTS", TOKEN_BUCKET_SHA)).toEqual([1]);
      const next = await sentByClient(async () => {
        expect(await limiter.consume("noscript", spec)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
        expect((await limiter.consume("noscript", spec)).allowed).toBe(false);
      });
      expect(next).toEqual(["evalsha", "evalsha"]);
    });

    it("makes exactly one round trip (one EVALSHA) per decision", async () => {
      const limiter = createRedisRateLimitBackend({ redis: client, prefix: ownPrefix });
      const spec = { capacity: 50, refillPerSecond: 10 };
      await limiter.consume("warm", spec);
      const sent = await sentByClient(async () => {
        for (let i = 0; i < 100; i++) await limiter.consume(`trips${i % 7}`, spec);
        await Promise.all(Array.from({ length: 50 }, (_, i) => limiter.consume(`trips${i % 7}`, spec)));
      });
      expect(sent).toHaveLength(150);
      expect(new Set(sent)).toEqual(new Set(["evalsha"]));
    });
  });

  describe("cluster atomicity", () => {
    const children: ChildProcess[] = [];

    afterAll(() => {
      for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    });

    it("two processes hammering one bucket never admit more than it holds", async () => {
      const capacity = 50;
      const rate = 2;
      const env = {
        REDIS_URL: redisUrl(),
        PREFIX: prefix,
        KEY: "hammered",
        CAPACITY: String(capacity),
        RATE: String(rate),
        TOTAL: "1500",
        INFLIGHT: "32",
      };
      const start = (): { child: ChildProcess; ready: Promise<void>; result: Promise<{ allowed: number; total: number }> } => {
        const child = spawnTsFixture(resolve(here, "fixtures/hammer.ts"), { env, stdio: ["pipe", "pipe", "pipe"] });
        children.push(child);
        let out = "";
        let err = "";
        let onReady: () => void = () => undefined;
        const ready = new Promise<void>((r) => (onReady = r));
        child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
        child.stdout?.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("ready\n")) onReady();
        });
        const result = new Promise<{ allowed: number; total: number }>((done, fail) => {
          child.once("exit", (code) => {
            const line = out.split("\n").find((l) => l.startsWith("{"));
            if (code === 0 && line) done(JSON.parse(line) as { allowed: number; total: number });
            else fail(new Error(`hammer exited with ${code}: ${err}`));
          });
        });
        // An early exit must fail the test, not leave it waiting for "ready".
        void result.catch(() => onReady());
        return { child, ready, result };
      };

      const a = start();
      const b = start();
      await Promise.all([a.ready, b.ready]);
      const t0 = performance.now();
      a.child.stdin?.write("go\n");
      b.child.stdin?.write("go\n");
      const [ra, rb] = await Promise.all([a.result, b.result]);
      const seconds = (performance.now() - t0) / 1000;

      expect(ra.total + rb.total).toBe(3000);
      const admitted = ra.allowed + rb.allowed;
      // The bucket starts full: at least its capacity passes, and at most that plus what
      // refilled while the run lasted (measured from outside, so an upper bound).
      expect(admitted).toBeGreaterThan(0);
      expect(admitted).toBeGreaterThanOrEqual(capacity);
      expect(admitted).toBeLessThanOrEqual(capacity + Math.floor(rate * seconds));
    }, 60_000);
  });
});
