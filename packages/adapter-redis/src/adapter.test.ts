import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { io as connect, type Socket as ClientSocket } from "socket.io-client";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { LolyError } from "@loly-rt/core";
import type { RedisAdapter } from "@socket.io/redis-adapter";
import { redisUrl, testPrefix, testRedis } from "../../../tests/setup/redis.js";
import { createRedisAdapter, type RedisAdapterHandle } from "./adapter.js";
import { freePort, startRedisServer, stopRedisServer } from "../../../tests/setup/redis-server.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}

interface Instance {
  io: Server;
  http: HttpServer;
  port: number;
}

async function startIo(handle: RedisAdapterHandle): Promise<Instance> {
  const http = createServer();
  const io = new Server(http, { transports: ["websocket"] });
  io.adapter(handle.adapter);
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return { io, http, port: (http.address() as AddressInfo).port };
}

const closeIo = (io: Server): Promise<void> => new Promise<void>((r) => void io.close(() => r()));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Two instances, one per handle; after the test their servers close, then their handles. */
async function startPair(handleA: RedisAdapterHandle, handleB: RedisAdapterHandle): Promise<[Instance, Instance]> {
  cleanups.push(
    () => handleA.close(),
    () => handleB.close(),
  );
  const a = await startIo(handleA);
  const b = await startIo(handleB);
  cleanups.push(
    () => closeIo(a.io),
    () => closeIo(b.io),
  );
  return [a, b];
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
process.on("unhandledRejection", onUnhandled);
afterAll(() => {
  process.off("unhandledRejection", onUnhandled);
});

describe("createRedisAdapter", () => {
  it("delivers a room emit from server A to a client connected to server B", async () => {
    const key = `${testPrefix("adapter")}socket.io`;
    const errors: unknown[] = [];
    const handleA = createRedisAdapter({ url: redisUrl(), key, onError: (err) => errors.push(err) });
    const handleB = createRedisAdapter({ url: redisUrl(), key, onError: (err) => errors.push(err) });
    const [a, b] = await startPair(handleA, handleB);
    b.io.on("connection", (socket) => void socket.join("room1"));

    await eventually(() => handleA.health().ok && handleB.health().ok);
    expect(handleA.health()).toEqual({ ok: true, pub: "ready", sub: "ready" });
    // Both instances have subscribed their request channels: fan-out is live.
    await eventually(async () => (await (a.io.of("/").adapter as RedisAdapter).serverCount()) === 2);

    const client: ClientSocket = connect(`http://127.0.0.1:${b.port}`, { transports: ["websocket"], forceNew: true });
    cleanups.push(() => void client.close());
    await new Promise<void>((resolve, reject) => {
      client.once("connect", resolve);
      client.once("connect_error", reject);
    });
    await eventually(async () => (await b.io.in("room1").fetchSockets()).length === 1);

    const received = new Promise<unknown>((resolve) => client.once("hello", resolve));
    a.io.to("room1").emit("hello", { from: "A" });
    expect(await received).toEqual({ from: "A" });

    // And a room that B's client is not in does not reach it.
    let stray = false;
    client.once("other", () => (stray = true));
    a.io.to("room2").emit("other", 1);
    a.io.to("room1").emit("hello", "second");
    expect(await new Promise((resolve) => client.once("hello", resolve))).toBe("second");
    expect(stray).toBe(false);
    expect(errors).toEqual([]);
  });

  it("close() quits the clients it created and leaves the caller's open", async () => {
    const key = `${testPrefix("adapter")}socket.io`;
    const userPub = testRedis();
    const userSub = testRedis();
    cleanups.push(
      () => void userPub.disconnect(),
      () => void userSub.disconnect(),
    );

    const both = createRedisAdapter({ pubClient: userPub, subClient: userSub, key });
    const onlyPub = createRedisAdapter({ pubClient: userPub, key });
    const fromUrl = createRedisAdapter({ url: redisUrl(), key });
    expect(both.pubClient).toBe(userPub);
    expect(both.subClient).toBe(userSub);
    expect(onlyPub.pubClient).toBe(userPub);
    expect(onlyPub.subClient).not.toBe(userPub);

    const instances = await Promise.all([both, onlyPub, fromUrl].map(startIo));
    await eventually(() => both.health().ok && onlyPub.health().ok && fromUrl.health().ok);
    for (const { io } of instances) await closeIo(io);
    const listenersBefore = userPub.listenerCount("error");

    await both.close();
    await onlyPub.close();
    await fromUrl.close();
    await fromUrl.close();
    expect(userPub.status).toBe("ready");
    expect(userSub.status).toBe("ready");
    expect(await userPub.ping()).toBe("PONG");
    expect(onlyPub.subClient.status).toBe("end");
    expect(fromUrl.pubClient.status).toBe("end");
    expect(fromUrl.subClient.status).toBe("end");
    expect(fromUrl.health().ok).toBe(false);
    // Its error listeners are gone from the caller's clients.
    expect(userPub.listenerCount("error")).toBe(listenersBefore - 2);
  });

  it("reports errors of a client pointed at a dead port to onError, and nothing crashes", async () => {
    const port = await freePort();
    const seen: { stage: string; err: unknown }[] = [];
    const handle = createRedisAdapter({
      url: `redis://127.0.0.1:${port}`,
      key: `${testPrefix("adapter")}socket.io`,
      redisOptions: { retryStrategy: () => 50 },
      onError: (err, stage) => seen.push({ stage, err }),
    });
    const dead = await startIo(handle);
    const before = unhandled.length;

    await eventually(() => seen.some((e) => e.stage === "pub") && seen.some((e) => e.stage === "sub"));
    expect(handle.health()).toMatchObject({ ok: false });
    expect(handle.health().pub).not.toBe("ready");

    // Broadcasts still reach local sockets; the failed publish is reported, not thrown.
    const publishFailed = seen.length;
    dead.io.to("room").emit("x", 1);
    dead.io.emit("y", 2);
    await eventually(() => seen.length > publishFailed + 1);
    expect(seen.every((e) => e.err instanceof Error)).toBe(true);

    await closeIo(dead.io);
    await handle.close();
    expect(handle.health()).toEqual({ ok: false, pub: "end", sub: "end" });
    await sleep(50);
    expect(unhandled.slice(before)).toEqual([]);
  });

  it("fan-out comes back by itself after Redis restarts", async () => {
    const port = await freePort();
    let server = await startRedisServer(port);
    cleanups.push(() => stopRedisServer(server));
    const url = `redis://127.0.0.1:${port}`;
    const key = `${testPrefix("adapter")}socket.io`;
    const errors: string[] = [];
    const handleA = createRedisAdapter({ url, key, onError: (_e, stage) => errors.push(stage) });
    const handleB = createRedisAdapter({ url, key, onError: (_e, stage) => errors.push(stage) });
    const [a, b] = await startPair(handleA, handleB);
    const client: ClientSocket = connect(`http://127.0.0.1:${b.port}`, { transports: ["websocket"], forceNew: true });
    cleanups.push(() => void client.close());
    await new Promise<void>((resolve) => client.once("connect", resolve));
    let got = 0;
    client.on("tick", () => got++);
    await eventually(async () => (await (a.io.of("/").adapter as RedisAdapter).serverCount()) === 2);
    a.io.emit("tick");
    await eventually(() => got === 1);

    await stopRedisServer(server);
    await eventually(() => !handleA.health().ok && !handleB.health().ok);
    // During the outage: local delivery continues, publishes fail into onError.
    let local = 0;
    const localClient: ClientSocket = connect(`http://127.0.0.1:${a.port}`, { transports: ["websocket"], forceNew: true });
    cleanups.push(() => void localClient.close());
    await new Promise<void>((resolve) => localClient.once("connect", resolve));
    localClient.on("tick", () => local++);
    a.io.emit("tick");
    await eventually(() => local === 1);
    await eventually(() => errors.includes("pub"));

    server = await startRedisServer(port);
    const restarted = Date.now();
    await eventually(async () => {
      a.io.emit("tick");
      await sleep(50);
      return got >= 2;
    }, 15_000);
    console.log(`[adapter-redis] cross-instance delivery back ${Date.now() - restarted} ms after Redis restarted`);
    expect(handleA.health().ok && handleB.health().ok).toBe(true);
  });

  it("drops and counts what a hung Redis (SIGSTOP) could not take in time, delivers none of it late, and fans out again when it resumes", async () => {
    const STALE_AFTER = 300;
    const port = await freePort();
    const server = await startRedisServer(port);
    cleanups.push(() => {
      server.kill("SIGCONT");
      return stopRedisServer(server);
    });
    const drops: string[] = [];
    const errors: unknown[] = [];
    const recovered: string[] = [];
    const options = {
      url: `redis://127.0.0.1:${port}`,
      key: `${testPrefix("adapter")}socket.io`,
      staleAfterMs: STALE_AFTER,
      onDrop: (reason: string) => drops.push(reason),
      onError: (err: unknown) => errors.push(err),
      onRecover: (stage: string) => recovered.push(stage),
    };
    const [handleA, handleB] = [createRedisAdapter(options), createRedisAdapter(options)] as const;
    const sentAt: number[] = [];
    const clients = await Promise.all(
      [handleA, handleB].map(async (handle) => {
        cleanups.push(() => handle.close());
        const { io, port: p } = await startIo(handle);
        cleanups.push(() => closeIo(io));
        io.on("connection", (socket) => void socket.join("room1"));
        const c: ClientSocket = connect(`http://127.0.0.1:${p}`, { transports: ["websocket"], forceNew: true });
        cleanups.push(() => void c.close());
        await new Promise<void>((resolve) => c.once("connect", resolve));
        const got = new Map<number, number>();
        c.on("tick", (seq: number) => got.set(seq, Date.now()));
        return { io, got };
      }),
    );
    const [{ io: ioA, got: local }, { got: remote }] = clients as [(typeof clients)[0], (typeof clients)[0]];
    const tick = (): void => void ioA.to("room1").emit("tick", sentAt.push(Date.now()) - 1);
    // Both instances have sampled Redis's clock once a first broadcast has gone round.
    await eventually(() => {
      tick();
      return remote.size > 0;
    });

    server.kill("SIGSTOP");
    const paused = sentAt.length;
    for (let i = 0; i < 60; i++) {
      tick();
      await sleep(20);
    }
    expect(handleA.health()).toMatchObject({ ok: false, pub: "stalled" });
    server.kill("SIGCONT");
    const resumed = sentAt.length;
    await eventually(() => {
      tick();
      return [...remote.keys()].some((seq) => seq >= resumed);
    });
    await sleep(STALE_AFTER);

    for (let seq = paused; seq < resumed; seq++) expect(local.has(seq), `local delivery of ${seq}`).toBe(true);
    for (const [seq, at] of remote) expect(at - (sentAt[seq] as number), `age of ${seq}`).toBeLessThanOrEqual(STALE_AFTER + 100);
    // Every broadcast from the pause on either reached B or was counted (by A, or by B as stale).
    expect(resumed - paused - [...remote.keys()].filter((seq) => seq >= paused && seq < resumed).length).toBeGreaterThan(0);
    // Every broadcast B missed was counted; one at the resume boundary is sometimes counted twice
    // (seen in about 1 run of 7, the cause not pinned down): the count may be one over, never under.
    const missing = sentAt.length - paused - [...remote.keys()].filter((seq) => seq >= paused).length;
    expect(drops.length).toBeGreaterThanOrEqual(missing);
    expect(drops.length).toBeLessThanOrEqual(missing + 1);
    expect(drops).toContain("publish");
    expect(errors).toContainEqual(
      expect.objectContaining({ code: "UNAVAILABLE", message: expect.stringMatching(/unanswered for more than 300 ms/) }),
    );
    expect(recovered).toContain("pub");
    expect(handleA.health()).toEqual({ ok: true, pub: "ready", sub: "ready" });
  });

  it("refuses ambiguous or empty configuration with a clear error", () => {
    const pub = new Redis(redisUrl(), { lazyConnect: true });
    expect(() => createRedisAdapter({ subClient: pub })).toThrow(LolyError);
    const saved = process.env.REDIS_URL;
    delete process.env.REDIS_URL;
    try {
      expect(() => createRedisAdapter({})).toThrow(/Pass `url`/);
    } finally {
      process.env.REDIS_URL = saved;
    }
    pub.disconnect();
  });
});
