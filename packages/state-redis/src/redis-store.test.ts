import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { LolyError } from "@loly-rt/core";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { spawnTsFixture } from "../../../tests/setup/child.js";
import { deleteKeys, redisUrl, testPrefix, testRedis } from "../../../tests/setup/redis.js";
import { freePort, startRedisServer, stopRedisServer } from "../../../tests/setup/redis-server.js";
import { createRedisStateStore } from "./index.js";
import type { RedisStateStore } from "./index.js";

const prefix = testPrefix("state-redis");
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

let raw: Redis;
const stores: RedisStateStore[] = [];
function store(extra: { prefix?: string } = {}): RedisStateStore {
  const s = createRedisStateStore({ url: redisUrl(), prefix: extra.prefix ?? prefix });
  stores.push(s);
  return s;
}

beforeAll(() => {
  raw = testRedis();
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await deleteKeys(prefix, raw);
  raw.disconnect();
});

describe("options", () => {
  it("needs exactly one of url and redis", () => {
    expect(() => createRedisStateStore({})).toThrow(/pass `url`/);
    const client = new Redis(redisUrl(), { lazyConnect: true });
    expect(() => createRedisStateStore({ url: redisUrl(), redis: client })).toThrow(/not both/);
    client.disconnect();
  });

  it('defaults the prefix to "loly:"', async () => {
    const s = createRedisStateStore({ url: redisUrl() });
    expect(s.prefix).toBe("loly:");
    await s.close();
  });
});

describe("key layout", () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the name shows the key layout
  it("writes values, lists, sets and counters at ${prefix}state:<key>, locks at ${prefix}lock:<key>", async () => {
    const s = store();
    await s.set("layout:value", { a: [1, "b"] }, { ttlMs: 60_000 });
    await s.listPush("layout:list", "x");
    await s.setAdd("layout:set", "m");
    await s.incr("layout:counter", 7);
    const release = await s.lock("layout:lock", 60_000);
    expect(await raw.get(`${prefix}state:layout:value`)).toBe('{"a":[1,"b"]}');
    expect(await raw.pttl(`${prefix}state:layout:value`)).toBeGreaterThan(50_000);
    expect(await raw.lrange(`${prefix}state:layout:list`, 0, -1)).toEqual(['"x"']);
    expect(await raw.smembers(`${prefix}state:layout:set`)).toEqual(["m"]);
    expect(await raw.get(`${prefix}state:layout:counter`)).toBe("7");
    expect(await raw.pttl(`${prefix}lock:layout:lock`)).toBeGreaterThan(50_000);
    expect(await release!()).toBe(true);
    expect(await raw.exists(`${prefix}lock:layout:lock`)).toBe(0);
  });

  it("writes every key under the prefix (SCAN)", async () => {
    const marker = `mark${randomBytes(4).toString("hex")}`;
    const s = store();
    const k = (name: string): string => `${marker}:${name}`;
    await s.set(k("v"), 1);
    await s.set(k("ttl"), "x", { ttlMs: 60_000 });
    await s.incr(k("c"));
    await s.decr(k("d"));
    await s.listPush(k("l"), { a: 1 });
    await s.setAdd(k("s"), "m");
    const release = await s.lock(k("lock"), 60_000);
    const found: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await raw.scan(cursor, "MATCH", `*${marker}*`, "COUNT", 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== "0");
    expect(found.sort()).toEqual(
      [`${prefix}lock:${k("lock")}`, ...["v", "ttl", "c", "d", "l", "s"].map((name) => `${prefix}state:${k(name)}`)].sort(),
    );
    expect(found.every((key) => key.startsWith(prefix))).toBe(true);
    await release!();
  });

  it("stores under another prefix are separate clusters", async () => {
    const other = testPrefix("state-redis-other");
    const a = store();
    const b = store({ prefix: other });
    await a.set("shared-name", "a");
    await b.set("shared-name", "b");
    expect(await a.get("shared-name")).toBe("a");
    expect(await b.get("shared-name")).toBe("b");
    await deleteKeys(other, raw);
  });
});

describe("values", () => {
  // JSON semantics are part of the conformance suite (redis-store.conformance.test.ts).
  it("rounds a fractional ttlMs up to whole milliseconds", async () => {
    const s = store();
    await s.set("fraction", 1, { ttlMs: 50.2 });
    expect(await raw.pttl(`${prefix}state:fraction`)).toBeGreaterThan(0);
    expect(await s.get("fraction")).toBe(1);
  });

  it("rejects a stored value that is not JSON with a clear error", async () => {
    const s = store();
    await raw.set(`${prefix}state:foreign`, "not json");
    await expect(s.get("foreign")).rejects.toThrow(/get\("foreign"\) failed: the stored value is not JSON/);
  });

  it("a Redis reply error keeps its message and is not UNAVAILABLE", async () => {
    const s = store();
    await s.set("wrongtype", "text");
    const error = await s.listPush("wrongtype", 1).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(Error);
    expect(LolyError.is(error)).toBe(false);
    expect((error as Error).message).toBe(
      'state-redis: listPush("wrongtype") failed: WRONGTYPE Operation against a key holding the wrong kind of value',
    );
  });
});

describe("atomicity across processes", () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  });

  it("incr is exact with two OS processes incrementing concurrently", async () => {
    const n = 500;
    const key = "cross-process-counter";
    const worker = fileURLToPath(new URL("./fixtures/incr-worker.ts", import.meta.url));
    const start = (): { ready: Promise<void>; results: Promise<number[]>; exited: Promise<number | null> } => {
      const child = spawnTsFixture(worker, {
        env: { REDIS_URL: redisUrl(), PREFIX: prefix, KEY: key, N: String(n) },
        stdio: ["pipe", "pipe", "inherit"],
      });
      children.push(child);
      const lines = createInterface({ input: child.stdout! });
      let onReady!: () => void;
      let onResults!: (r: number[]) => void;
      const ready = new Promise<void>((resolve) => (onReady = resolve));
      const results = new Promise<number[]>((resolve) => (onResults = resolve));
      lines.on("line", (line) => {
        if (line === "ready") onReady();
        else if (line.startsWith("[")) onResults(JSON.parse(line) as number[]);
      });
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      return { ready, results, exited };
    };
    const a = start();
    const b = start();
    await Promise.all([a.ready, b.ready]);
    for (const child of children) child.stdin!.write("go\n");
    const [ra, rb] = await Promise.all([a.results, b.results]);
    expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0]);
    const s = store();
    expect(await s.get(key)).toBe(2 * n);
    expect(ra).toHaveLength(n);
    expect(rb).toHaveLength(n);
    expect([...ra, ...rb].sort((x, y) => x - y)).toEqual(Array.from({ length: 2 * n }, (_v, i) => i + 1));
  }, 30_000);

  it("a lock is exclusive across two clients", async () => {
    const a = store();
    const b = store();
    expect(a.redis).not.toBe(b.redis);
    const results = await Promise.all(Array.from({ length: 40 }, (_v, i) => (i % 2 === 0 ? a : b).lock("two-clients", 60_000)));
    const winners = results.filter((r) => r !== null);
    expect(winners).toHaveLength(1);
    expect(await a.lock("two-clients", 60_000)).toBeNull();
    expect(await b.lock("two-clients", 60_000)).toBeNull();
    expect(await winners[0]!()).toBe(true);
    const next = await b.lock("two-clients", 60_000);
    expect(next).toBeTypeOf("function");
    expect(await a.lock("two-clients", 60_000)).toBeNull();
    expect(await next!()).toBe(true);
  });

  it("a stale release from one client does not free another client's lock", async () => {
    const a = store();
    const b = store();
    const stale = await a.lock("two-clients-stale", 50);
    await sleep(150);
    const current = await b.lock("two-clients-stale", 60_000);
    expect(current).toBeTypeOf("function");
    expect(await stale!()).toBe(false);
    expect(await a.lock("two-clients-stale", 60_000)).toBeNull();
    expect(await current!()).toBe(true);
  });
});

describe("client ownership", () => {
  it("close() leaves the user's client open and removes only its own listener", async () => {
    const client = testRedis();
    const before = client.listenerCount("error");
    const s = createRedisStateStore({ redis: client, prefix, onError: () => undefined });
    expect(s.redis).toBe(client);
    expect(client.listenerCount("error")).toBe(before + 1);
    await s.set("user-client", 1);
    await s.close();
    await s.close();
    expect(client.listenerCount("error")).toBe(before);
    expect(client.status).toBe("ready");
    expect(await client.ping()).toBe("PONG");
    const error = await s.get("user-client").catch((err: unknown) => err);
    expect(LolyError.is(error) && error.code).toBe("UNAVAILABLE");
    expect(await client.get(`${prefix}state:user-client`)).toBe("1");
    client.disconnect();
  });

  it("attaches no listener to the user's client without onError", async () => {
    const client = testRedis();
    const before = client.listenerCount("error");
    const s = createRedisStateStore({ redis: client, prefix });
    expect(client.listenerCount("error")).toBe(before);
    await s.close();
    expect(await client.ping()).toBe("PONG");
    client.disconnect();
  });

  it("close() closes the client it created from url, and is idempotent", async () => {
    const s = createRedisStateStore({ url: redisUrl(), prefix });
    expect(s.redis.listenerCount("error")).toBeGreaterThan(0);
    await s.set("own-client", 1);
    await Promise.all([s.close(), s.close()]);
    await s.close();
    expect(s.redis.status).toBe("end");
    await expect(s.get("own-client")).rejects.toThrow(/after close/);
  });
});

describe("when Redis goes away", () => {
  let server: ChildProcess | undefined;
  let port = 0;

  const startRedis = async (): Promise<void> => {
    server = await startRedisServer(port);
  };

  const stopRedis = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (s) await stopRedisServer(s);
  };

  beforeAll(async () => {
    port = await freePort();
    await startRedis();
  });

  afterAll(async () => {
    await stopRedis();
  });

  it("rejects with UNAVAILABLE, reports through onError, never crashes, and recovers", async () => {
    const errors: Error[] = [];
    const s = createRedisStateStore({
      url: `redis://127.0.0.1:${port}`,
      prefix,
      onError: (err) => errors.push(err),
      redisOptions: { maxRetriesPerRequest: 0, retryStrategy: () => 50 },
    });
    try {
      // A fresh server has no script cached: the release falls back from EVALSHA to EVAL.
      const release = await s.lock("outage-lock", 60_000);
      expect(await release!()).toBe(true);
      await s.set("outage", 1);

      await stopRedis();
      const error = await eventually(async () => {
        const err = await s.get("outage").then(
          () => undefined,
          (e: unknown) => e,
        );
        if (err === undefined) throw new Error("still answering");
        return err;
      });
      expect(LolyError.is(error)).toBe(true);
      expect((error as LolyError).code).toBe("UNAVAILABLE");
      expect((error as Error).message).toMatch(/^state-redis: get\("outage"\) failed: /);
      await eventually(() => expect(errors.length).toBeGreaterThan(0));

      await startRedis();
      await eventually(async () => expect(await s.incr("after-outage")).toBe(1));
      const again = await s.lock("outage-lock", 60_000);
      expect(await again!()).toBe(true);
    } finally {
      await s.close();
    }
    expect(s.redis.status).toBe("end");
  }, 30_000);

  it("warns once per outage on the console when no onError is given", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const deadPort = await freePort();
    const s = createRedisStateStore({
      url: `redis://127.0.0.1:${deadPort}`,
      prefix,
      redisOptions: { maxRetriesPerRequest: 0, retryStrategy: () => 20 },
    });
    try {
      await expect(s.get("nothing")).rejects.toSatisfy((err) => LolyError.is(err) && err.code === "UNAVAILABLE");
      await sleep(200);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/\[@loly-rt\/state-redis\] Redis error/);
    } finally {
      await s.close();
    }
  });
});

describe("close of a client that never connected", () => {
  it("resolves for a lazyConnect client and for one still connecting", async () => {
    const lazy = createRedisStateStore({ url: redisUrl(), prefix, redisOptions: { lazyConnect: true } });
    await lazy.close();
    expect(lazy.redis.status).toBe("end");
    const connecting = createRedisStateStore({ url: redisUrl(), prefix });
    expect(connecting.redis.status).toBe("connecting");
    await connecting.close();
    expect(connecting.redis.status).toBe("end");
  });
});
