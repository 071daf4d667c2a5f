/**
 * Socket.IO as its users know it (SPEC 11): Socket.IO server options through `io`, Loly's own
 * keys refused with the Loly setting to use, unknown options refused, a custom parser
 * (socket.io-msgpack-parser) with every feature, on one instance and across two processes with
 * recovery, and an adapter Loly does not build (`scale.adapter.type: "custom"`).
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import msgpackParser from "socket.io-msgpack-parser";
import { io as ioClient, type Socket } from "socket.io-client";
import { LolyError } from "@loly-rt/core";
import { createRealtimeServer } from "@loly-rt/server";
import { nextError, request, startServer, type TestServer } from "../../../packages/server/src/test-helpers.js";
import { deleteKeys, redisUrl, testPrefix } from "../../setup/redis.js";
import { relRoute } from "./fixtures/route.js";
import { startBalancer, type Balancer } from "./support/balancer.js";
import { startInstance, type Proc, sleep } from "./support/procs.js";

const servers: TestServer[] = [];
const clients: Socket[] = [];
const procs: Proc[] = [];
let balancer: Balancer | undefined;
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await balancer?.close();
  balancer = undefined;
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(procs.splice(0).map((p) => p.kill()));
});

async function refusal(options: Parameters<typeof createRealtimeServer>[0]): Promise<LolyError> {
  const err = await createRealtimeServer(options).then(
    async (rt) => {
      await rt.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  if (!LolyError.is(err)) throw new Error(`expected a LolyError, got ${String(err)}`);
  return err;
}

describe("createRealtimeServer options", () => {
  it("an unknown option fails start-up with INVALID_CONFIG and a did-you-mean", async () => {
    const err = await refusal({ routesdir: "app/wss" } as never);
    expect(err.code).toBe("INVALID_CONFIG");
    expect(err.message).toContain("routesdir: unknown option of createRealtimeServer (did you mean routesDir?)");
    const misplaced = await refusal({ allowedOrigins: ["https://a.example"] } as never);
    expect(misplaced.message).toContain("allowedOrigins: unknown option of createRealtimeServer (did you mean config.allowedOrigins?)");
  });

  it("io options Loly owns fail start-up naming the Loly setting; the rest reach Socket.IO", async () => {
    const err = await refusal({ io: { path: "/x", pingInterval: 1000, cors: { origin: "*" }, connectionStateRecovery: {} } });
    expect(err.code).toBe("INVALID_CONFIG");
    expect(err.message).toContain("io.path: set by Loly; use config.path");
    expect(err.message).toContain("io.pingInterval: set by Loly; use config.pingIntervalMs");
    expect(err.message).toContain("io.cors: set by Loly; use config.allowedOrigins");
    expect(err.message).toContain("io.connectionStateRecovery: set by Loly; use config.recovery");
    const adapter = await refusal({ io: { adapter: (() => undefined) as never } });
    expect(adapter.message).toContain('io.adapter: set by Loly; use config.scale.adapter (type "custom"');

    const srv = await startServer(
      { "/rel": relRoute },
      {},
      { io: { perMessageDeflate: { threshold: 512 }, cleanupEmptyChildNamespaces: true } },
    );
    servers.push(srv);
    const engineOpts = (srv.rt.io.engine as unknown as { opts: { perMessageDeflate: unknown } }).opts;
    expect(engineOpts.perMessageDeflate).toMatchObject({ threshold: 512 });
    expect((srv.rt.io as unknown as { _opts: { cleanupEmptyChildNamespaces: boolean } })._opts.cleanupEmptyChildNamespaces).toBe(true);
    // Loly's own settings still hold.
    expect(srv.rt.io.path()).toBe("/wss");
  });

  it("scale.adapter type custom needs create, and create needs type custom", async () => {
    const missing = await refusal({ config: { scale: { mode: "cluster", adapter: { type: "custom" }, stateStore: { url: redisUrl() } } } });
    expect(missing.message).toContain('scale.adapter.create: required for type "custom"');
    const stray = await refusal({
      config: { scale: { mode: "cluster", adapter: { type: "redis", url: redisUrl(), create: () => undefined } } },
    });
    expect(stray.message).toContain('scale.adapter.create: only for type "custom"');
  });
});

describe("a custom parser (socket.io-msgpack-parser), one instance", () => {
  it("schemas, errors, acks, rooms, bytes and the size cap work as with the default parser", async () => {
    const srv = await startServer({ "/rel": relRoute }, { maxPayloadBytes: 4096 }, { io: { parser: msgpackParser } });
    servers.push(srv);
    const alice = srv.connect("/rel", { parser: msgpackParser, auth: { token: "alice" } });
    const bob = srv.connect("/rel", { parser: msgpackParser, auth: { token: "bob" } });
    await Promise.all([alice, bob].map((c) => new Promise<void>((r) => c.once("connect", () => r()))));
    expect(await request(alice, "echo", { n: 1, nested: [true, null] })).toEqual({ ok: true, data: { n: 1, nested: [true, null] } });
    const bytes = await request(alice, "echo", Buffer.from([0, 1, 2, 255]));
    expect(bytes.ok).toBe(true);
    expect([...new Uint8Array(bytes.data as ArrayBuffer | Uint8Array)]).toEqual([0, 1, 2, 255]);
    const bad = await request(alice, "work", "not a number");
    expect(bad).toMatchObject({ ok: false, error: { code: "BAD_PAYLOAD" } });
    expect(bad.error.details.issues.length).toBeGreaterThan(0);
    expect(await request(alice, "nope", 1)).toMatchObject({ ok: false, error: { code: "UNKNOWN_EVENT" } });
    const unasked = nextError(alice);
    alice.emit("nope", 1);
    expect((await unasked).code).toBe("UNKNOWN_EVENT");
    // Rooms
    expect((await request(bob, "join", "lobby")).ok).toBe(true);
    const said = new Promise<{ seq: number }>((r) => bob.once("said", r));
    await request(alice, "say", { room: "lobby", seq: 7 });
    expect((await said).seq).toBe(7);
    // The size cap holds for msgpack frames too: the connection is closed.
    const gone = new Promise<string>((r) => alice.once("disconnect", r));
    alice.emit("echo", Buffer.alloc(8192));
    expect(await gone).toBe("transport close");
    expect(bob.connected).toBe(true);
  });
});

describe("a custom parser and adapter across two processes", () => {
  const prefix = testPrefix("rel-sio-options");
  afterAll(async () => {
    await deleteKeys(prefix);
  });
  const cluster = () => {
    const url = redisUrl();
    return {
      logging: { level: "warn" as const, pretty: false },
      scale: { mode: "cluster" as const, adapter: { type: "redis" as const, url }, stateStore: { type: "redis" as const, url, prefix } },
      limits: { connectionsPerIp: 1000 },
    };
  };
  const connect = (url: string, token: string, extra: Record<string, unknown> = {}): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const c = ioClient(`${url}/rel`, {
        path: "/wss",
        transports: ["websocket"],
        auth: { token },
        reconnectionDelay: 300,
        reconnectionDelayMax: 300,
        randomizationFactor: 0,
        ...extra,
      });
      clients.push(c);
      c.once("connect", () => resolve(c));
      c.once("connect_error", reject);
    });

  it("msgpack with recovery: a room broadcast crosses instances, and a cut client recovers its missed events", {
    timeout: 30_000,
  }, async () => {
    const env = { LOLY_TEST_PARSER: "msgpack" };
    const [a, b] = await Promise.all([startInstance(cluster(), { env }), startInstance(cluster(), { env })]);
    procs.push(a, b);
    // listen() resolved only once the instance was ready: its adapter's clients too.
    for (const p of [a, b])
      expect(await p.call("health")).toMatchObject({ ok: true, details: { command: "ready", pub: "ready", sub: "ready" } });
    balancer = await startBalancer([a.port]);
    const alice = await connect(balancer.url, "alice", { parser: msgpackParser });
    const bob = await connect(b.url, "bob", { parser: msgpackParser });
    expect((await request(alice, "join", "lobby")).ok).toBe(true);
    const got: number[] = [];
    alice.on("said", (m: { seq: number }) => got.push(m.seq));
    await request(bob, "say", { room: "lobby", seq: 1 });
    await sleep(200);
    expect(got).toEqual([1]);
    balancer.setBackends([b.port]);
    const away = new Promise((r) => alice.once("disconnect", r));
    await a.call("cut", { id: alice.id });
    await away;
    for (let seq = 2; seq <= 4; seq++) await request(bob, "say", { room: "lobby", seq });
    await new Promise<void>((r) => (alice.connected ? r() : alice.once("connect", () => r())));
    expect(alice.recovered).toBe(true);
    await sleep(200);
    expect(got).toEqual([1, 2, 3, 4]);
  });

  it('scale.adapter type "custom": @socket.io/redis-adapter built by the application carries broadcasts across instances', {
    timeout: 30_000,
  }, async () => {
    const env = { LOLY_TEST_ADAPTER: "stock-redis" };
    const [a, b] = await Promise.all([startInstance(cluster(), { env }), startInstance(cluster(), { env })]);
    procs.push(a, b);
    const alice = await connect(a.url, "alice");
    const bob = await connect(b.url, "bob");
    expect((await request(alice, "join", "lobby")).ok).toBe(true);
    const said = new Promise<{ seq: number; via: number }>((r) => alice.once("said", r));
    await request(bob, "say", { room: "lobby", seq: 9 });
    expect(await said).toEqual({ seq: 9, via: b.proc.pid });
    expect(a.logs().some((l) => String(l.msg).includes("recovery: off with a custom adapter"))).toBe(true);
  });
});
