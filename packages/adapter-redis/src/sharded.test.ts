import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { LolyError } from "@loly-rt/core";
import { encode } from "notepack.io";
import { Server } from "socket.io";
import { io as connect, type Socket as ClientSocket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { eventually as pollUntil } from "../../../tests/integration/src/harness.js";
import { redisUrl, testPrefix, testRedis } from "../../../tests/setup/redis.js";
import { createRedisAdapter, type RedisAdapterHandle } from "./adapter.js";

/** Polls `check` every 20 ms until it holds, for at most 5 s (the integration harness's poll). */
const eventually = (check: () => boolean | Promise<boolean>): Promise<number> => pollUntil(async () => check(), 5000, 20);

interface Instance {
  io: Server;
  http: HttpServer;
  port: number;
  handle: RedisAdapterHandle;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/**
 * `count` instances on one sharded key, each its own Socket.IO server and adapter handle;
 * `already` instances run on the key before them (the new ones hear those too).
 */
async function startInstances(count: number, key: string, already = 0): Promise<Instance[]> {
  const out: Instance[] = [];
  for (let i = 0; i < count; i++) {
    const handle = createRedisAdapter({ url: redisUrl(), key, pubsub: "sharded", requestsTimeout: 1000 });
    cleanups.push(() => handle.close());
    const http = createServer();
    const io = new Server(http, { transports: ["websocket"] });
    io.adapter(handle.adapter as never);
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((r) => void io.close(() => r())));
    out.push({ io, http, port: (http.address() as AddressInfo).port, handle });
  }
  // Every namespace channel listens: the instances hear each other (and the ones already there).
  await eventually(async () => (await serverCount(out[0] as Instance)) === count + already);
  return out;
}

function serverCount(instance: Instance): Promise<number> {
  return (instance.io.of("/").adapter as unknown as { serverCount(): Promise<number> }).serverCount();
}

async function client(instance: Instance, query: Record<string, string> = {}): Promise<ClientSocket> {
  const socket = connect(`http://127.0.0.1:${instance.port}`, { transports: ["websocket"], forceNew: true, query });
  cleanups.push(() => void socket.disconnect());
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return socket;
}

/** Sharded channels of `key` Redis has subscribers for. */
async function channelsOf(key: string): Promise<string[]> {
  const redis = testRedis();
  try {
    return ((await redis.call("PUBSUB", "SHARDCHANNELS", `${key}*`)) as string[]).sort();
  } finally {
    redis.disconnect();
  }
}

describe("createRedisAdapter({ pubsub: 'sharded' })", () => {
  it("gives a room's broadcasts to the instances hosting it and to no other", async () => {
    const key = `${testPrefix("sharded")}socket.io`;
    const [a, b, c] = (await startInstances(3, key)) as [Instance, Instance, Instance];
    for (const instance of [b, c]) {
      instance.io.on("connection", (socket) => void socket.join(String(socket.handshake.query.room)));
    }
    const onB = await client(b, { room: "r1" });
    const onC = await client(c, { room: "r2" });
    await eventually(async () => {
      const channels = await channelsOf(key);
      return channels.includes(`${key}#/#r1#`) && channels.includes(`${key}#/#r2#`);
    });

    const got: { b: number[]; c: number[] } = { b: [], c: [] };
    onB.on("tick", (n: number) => got.b.push(n));
    onC.on("tick", (n: number) => got.c.push(n));
    const before = { b: b.handle.messagesReceived(), c: c.handle.messagesReceived() };
    for (let n = 0; n < 100; n++) a.io.to("r1").emit("tick", n);
    await eventually(() => got.b.length === 100);
    // A broadcast to r2 after them: once C has it, C would have had r1's too.
    a.io.to("r2").emit("tick", -1);
    await eventually(() => got.c.length === 1);

    expect(got.b).toEqual([...Array(100).keys()]);
    expect(got.c).toEqual([-1]);
    expect(b.handle.messagesReceived() - before.b).toBe(100);
    expect(c.handle.messagesReceived() - before.c).toBe(1);
  });

  it("delivers to its own sockets at once and crosses instances both ways, binary included", async () => {
    const key = `${testPrefix("sharded")}socket.io`;
    const [a, b] = (await startInstances(2, key)) as [Instance, Instance];
    for (const instance of [a, b]) instance.io.on("connection", (socket) => void socket.join("both"));
    const onA = await client(a);
    const onB = await client(b);
    await eventually(async () => (await a.io.in("both").fetchSockets()).length === 2);

    const received: Array<[string, unknown]> = [];
    onA.on("hello", (from: string, bytes: Buffer) => received.push([`A<-${from}`, Buffer.from(bytes).toString("hex")]));
    onB.on("hello", (from: string, bytes: Buffer) => received.push([`B<-${from}`, Buffer.from(bytes).toString("hex")]));
    a.io.to("both").emit("hello", "a", Buffer.from([1, 2]));
    b.io.to("both").emit("hello", "b", Buffer.from([3]));
    await eventually(() => received.length === 4);
    expect(received.sort()).toEqual([
      ["A<-a", "0102"],
      ["A<-b", "03"],
      ["B<-a", "0102"],
      ["B<-b", "03"],
    ]);
  });

  it("a socket that joined a new room (awaited) gets a broadcast sent right after from another instance", async () => {
    const key = `${testPrefix("sharded")}socket.io`;
    const [a, b] = (await startInstances(2, key)) as [Instance, Instance];
    const rooms: string[] = [];
    b.io.on("connection", (socket) => {
      socket.on("join", async (room: string, ack: () => void) => {
        await socket.join(room);
        ack();
      });
    });
    const onB = await client(b);
    const got: string[] = [];
    onB.on("news", (room: string) => got.push(room));
    for (let i = 0; i < 20; i++) {
      const room = `fresh-${i}`;
      rooms.push(room);
      await onB.emitWithAck("join", room);
      a.io.to(room).emit("news", room);
    }
    await eventually(() => got.length === rooms.length);
    expect(got).toEqual(rooms);
  });

  it("stops listening on a room's channel when its last member here leaves", async () => {
    const key = `${testPrefix("sharded")}socket.io`;
    const [a] = (await startInstances(1, key)) as [Instance];
    a.io.on("connection", (socket) => void socket.join("short"));
    const socket = await client(a);
    await eventually(async () => (await channelsOf(key)).includes(`${key}#/#short#`));
    socket.disconnect();
    await eventually(async () => !(await channelsOf(key)).includes(`${key}#/#short#`));
    // The namespace's own channel and the response channel stay.
    expect((await channelsOf(key)).filter((c) => c.startsWith(`${key}#/#`)).length).toBe(2);
  });

  it("runs fetchSockets, socketsJoin, disconnectSockets and serverSideEmit across instances", async () => {
    const key = `${testPrefix("sharded")}socket.io`;
    const [a, b] = (await startInstances(2, key)) as [Instance, Instance];
    b.io.on("connection", (socket) => void socket.join("lobby"));
    const onB = await client(b);
    await eventually(async () => (await a.io.in("lobby").fetchSockets()).length === 1);
    const [remote] = await a.io.in("lobby").fetchSockets();
    expect(remote?.id).toBe(onB.id);

    a.io.in("lobby").socketsJoin("vip");
    await eventually(
      () =>
        b.io
          .of("/")
          .adapter.rooms.get("vip")
          ?.has(onB.id as string) === true,
    );

    const heard = new Promise<unknown[]>((resolve) => b.io.on("ping-all", (...args: unknown[]) => resolve(args)));
    a.io.serverSideEmit("ping-all", 1, "two");
    expect(await heard).toEqual([1, "two"]);

    const gone = new Promise<string>((resolve) => onB.once("disconnect", resolve));
    a.io.in("vip").disconnectSockets(true);
    expect(await gone).toBe("io server disconnect");
  });

  it("refuses an unknown pubsub mode, and sharded with a recovery log", () => {
    expect(() => createRedisAdapter({ url: redisUrl(), pubsub: "fast" as never })).toThrow(/`pubsub` must be "classic" or "sharded"/);
    try {
      createRedisAdapter({
        url: redisUrl(),
        pubsub: "sharded",
        recovery: {
          root: "x:",
          windowMs: 1000,
          maxEvents: 10,
          hooks: () => ({ describe: () => ({}) as never, restoring: () => undefined }),
        },
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(LolyError);
      expect((err as LolyError).code).toBe("INVALID_CONFIG");
      expect((err as Error).message).toMatch(/one order per namespace/);
    }
  });

  it("a malformed message on its channels is reported, never thrown, and fan-out goes on", async () => {
    const key = `${testPrefix("sharded")}socket.io`;
    const errors: unknown[] = [];
    const handle = createRedisAdapter({ url: redisUrl(), key, pubsub: "sharded", onError: (err) => errors.push(err) });
    cleanups.push(() => handle.close());
    const http = createServer();
    const io = new Server(http, { transports: ["websocket"] });
    io.adapter(handle.adapter as never);
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((r) => void io.close(() => r())));
    const instance = { io, http, port: (http.address() as AddressInfo).port, handle };
    await eventually(async () => (await serverCount(instance)) === 1);
    const redis = testRedis();
    try {
      // Valid msgpack but no cluster message: a broadcast without its data.
      await redis.spublish(`${key}#/#`, encode({ uid: "someone", nsp: "/", type: 3 }));
      await redis.spublish(`${key}#/#`, "not msgpack at all");
    } finally {
      redis.disconnect();
    }
    const other = await startInstances(1, key, 1);
    io.on("connection", (socket) => void socket.join("r"));
    const member = await client(instance);
    await eventually(async () => (await channelsOf(key)).includes(`${key}#/#r#`));
    const got = new Promise((r) => member.once("hi", r));
    (other[0] as Instance).io.to("r").emit("hi", 1);
    expect(await got).toBe(1);
    await eventually(() => errors.length >= 1);
  });
});
