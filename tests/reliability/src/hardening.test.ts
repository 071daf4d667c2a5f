/**
 * Hardening (issue "Hardening", SPEC section 9): each attack that worked against v1, tried
 * again as a client would, black-box, against a real server. Each test failed before its fix.
 * The long versions with figures are in attacks.test.ts / `docs/reliability.md`.
 */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { defineWssRoute } from "@loly-rt/core";
import { Manager } from "socket.io-client";
import { handshakeRefusal, refusal, request, sleep, startServer, type TestServer } from "../../../packages/server/src/test-helpers.js";
import { startOwnRedis, type OwnRedis } from "./support/procs.js";
import { RawPolling, RawSocket, refusedHandshake } from "./support/raw.js";

const servers: TestServer[] = [];
async function server(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe("5. the auth hook is bounded by handlerTimeoutMs", () => {
  it("a hook that never settles refuses with UNAVAILABLE and leaves no socket or namespace behind", async () => {
    let calls = 0;
    const hanging = defineWssRoute({
      auth: (): Promise<{ id: string }> => {
        calls++;
        return new Promise(() => undefined);
      },
      events: { ping: () => "pong" },
    });
    const srv = await server({ "/rooms/[id]": hanging }, { handlerTimeoutMs: 300, limits: { connectionsPerIp: 1000 } });
    const nspsBefore = srv.rt.io._nsps.size;
    const clients = Array.from({ length: 50 }, (_, i) => srv.connect(`/rooms/${i}`));
    const codes = await Promise.all(clients.map((c) => refusal(c)));
    expect(new Set(codes)).toEqual(new Set(["UNAVAILABLE"]));
    expect(calls).toBe(50);
    await sleep(50);
    let sockets = 0;
    for (const nsp of srv.rt.io._nsps.values()) sockets += nsp.sockets.size;
    expect(sockets).toBe(0);
    expect(srv.rt.io._nsps.size).toBe(nspsBefore);
    const refused = await srv.rt.metrics.getSingleMetric("loly_connections_refused_total")?.get();
    expect(refused?.values.find((v) => v.labels.code === "UNAVAILABLE")?.value).toBe(50);
  });

  it("a hook that throws UNAVAILABLE (its backend is down) refuses with UNAVAILABLE, not UNAUTHORIZED", async () => {
    const { LolyError } = await import("@loly-rt/core");
    const down = defineWssRoute({
      auth: (): { id: string } => {
        throw new LolyError("UNAVAILABLE", "sessions database unreachable");
      },
      events: {},
    });
    const srv = await server({ "/s": down });
    expect(await refusal(srv.connect("/s"))).toBe("UNAVAILABLE");
  });
});

describe("7. socket-id rooms are not joinable", () => {
  const rooms = defineWssRoute({
    auth: ({ handshake }) => (typeof handshake.auth.name === "string" ? { id: handshake.auth.name } : null),
    events: {
      myId: (ctx) => ctx.socket.id,
      joinRoom: async (ctx) => {
        await ctx.actions.join(ctx.data as string);
        return "joined";
      },
      sendTo: (ctx) => {
        const { room, text } = ctx.data as { room: string; text: string };
        ctx.actions.toRoom(room).emit("said", text);
        return "sent";
      },
    },
  });

  it("alice can neither join bob's socket-id room nor send to it; ordinary rooms still work", async () => {
    const srv = await server({ "/c": rooms });
    const alice = await srv.connected("/c", { auth: { name: "alice" } });
    const bob = await srv.connected("/c", { auth: { name: "bob" } });
    const bobId = (await request(bob, "myId")).data as string;
    expect(bobId).toBe(bob.id);

    const heard: unknown[] = [];
    alice.on("said", (t) => heard.push(t));
    bob.on("said", (t) => heard.push(`bob:${t}`));
    const joined = await request(alice, "joinRoom", bobId);
    expect(joined.ok).toBe(false);
    expect(joined.error.code).toBe("FORBIDDEN");
    expect(joined.error.message).toContain("socket id");
    const sent = await request(alice, "sendTo", { room: bobId, text: "psst" });
    expect(sent.ok).toBe(false);
    expect(sent.error.code).toBe("FORBIDDEN");

    // A room of another shape: joined and reached as before.
    expect(await request(alice, "joinRoom", "room:general")).toEqual({ ok: true, data: "joined" });
    expect(await request(bob, "sendTo", { room: "room:general", text: "hi" })).toEqual({ ok: true, data: "sent" });
    await sleep(50);
    expect(heard).toEqual(["hi"]);
  });
});

describe("3. admission at the handshake", () => {
  const APP = "https://app.example.com";
  const plain = defineWssRoute({ events: { ping: () => "pong" } });

  it("sessions with a foreign Origin never take an IP's slots; sessions that never CONNECT are closed after connectTimeoutMs", async () => {
    const srv = await server({ "/s": plain }, { allowedOrigins: [APP], connectTimeoutMs: 400, limits: { connectionsPerIp: 5 } });
    for (let i = 0; i < 5; i++) {
      const answer = await refusedHandshake(srv.url, "websocket", { origin: "https://evil.example.com" });
      expect(answer.body).toContain("FORBIDDEN_ORIGIN");
    }
    const legit = await srv.connected("/s", { extraHeaders: { origin: APP } });
    expect(await request(legit, "ping")).toEqual({ ok: true, data: "pong" });
    legit.close();

    // Five allowed sessions that never send a CONNECT hold the IP's five slots for connectTimeoutMs at most.
    const idle = await Promise.all(Array.from({ length: 5 }, () => RawSocket.open(srv.url, { headers: { origin: APP } })));
    await sleep(50);
    expect(await refusal(srv.connect("/s", { extraHeaders: { origin: APP } }))).toBe("TOO_MANY_CONNECTIONS");
    const closed = await Promise.all(idle.map((raw) => raw.closed));
    expect(closed).toHaveLength(5);
    await sleep(50);
    const after = await srv.connected("/s", { extraHeaders: { origin: APP } });
    expect(after.connected).toBe(true);
  });

  it("a namespace the application adds on rt.io is behind the same per-IP limit and origin check", async () => {
    const srv = await server({ "/s": plain }, { allowedOrigins: [APP], limits: { connectionsPerIp: 1 } });
    srv.rt.io.of("/admin").on("connection", (socket) => socket.emit("hello"));
    const first = await srv.connected("/admin", { extraHeaders: { origin: APP } });
    expect(first.connected).toBe(true);
    expect(await refusal(srv.connect("/admin", { extraHeaders: { origin: APP } }))).toBe("TOO_MANY_CONNECTIONS");
    const foreign = await handshakeRefusal(
      srv.connect("/admin", { transports: ["polling"], extraHeaders: { origin: "https://evil.example.com" } }),
    );
    expect(foreign.body).toEqual({ code: 4, message: "FORBIDDEN_ORIGIN" });
  });
});

describe("4. namespaces per connection are bounded", () => {
  it("one connection gets TOO_MANY_NAMESPACES past limits.namespacesPerConnection; the auth hook does not run for them", async () => {
    let auths = 0;
    const room = defineWssRoute({
      auth: () => {
        auths++;
        return null;
      },
      events: { ping: () => "pong" },
    });
    const srv = await server({ "/rooms/[id]": room }, { limits: { namespacesPerConnection: 4 } });
    const manager = new Manager(srv.url, { path: "/wss", transports: ["websocket"], reconnection: false });
    const sockets = Array.from({ length: 10 }, (_, i) => manager.socket(`/rooms/${i}`));
    const outcomes = await Promise.all(
      sockets.map(
        (s) =>
          new Promise<string>((resolve) => {
            s.once("connect", () => resolve("connected"));
            s.once("connect_error", (err) => resolve(err.message));
          }),
      ),
    );
    expect(outcomes.filter((o) => o === "connected")).toHaveLength(4);
    expect(outcomes.filter((o) => o === "TOO_MANY_NAMESPACES")).toHaveLength(6);
    expect(auths).toBe(4);
    // A namespace left frees its slot (the CONNECT budget refills at one per second).
    const left = sockets.find((s) => s.connected);
    left?.disconnect();
    await sleep(1100);
    const again = manager.socket("/rooms/again");
    const outcome = await new Promise<string>((resolve) => {
      again.once("connect", () => resolve("connected"));
      again.once("connect_error", (err) => resolve(err.message));
    });
    expect(outcome).toBe("connected");
    for (const s of [...sockets, again]) s.disconnect();
    manager.engine?.close();
  });

  it("CONNECTs are rate-limited: connecting and leaving in a loop is refused past the burst", async () => {
    const srv = await server({ "/rooms/[id]": defineWssRoute({ events: {} }) }, { limits: { namespacesPerConnection: 3 } });
    const manager = new Manager(srv.url, { path: "/wss", transports: ["websocket"], reconnection: false });
    // One namespace stays connected so that the loop below runs over one Engine.IO connection.
    const holder = manager.socket("/rooms/holder");
    await new Promise<void>((resolve) => holder.once("connect", () => resolve()));
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const s = manager.socket(`/rooms/${i}`);
      outcomes.push(
        await new Promise<string>((resolve) => {
          s.once("connect", () => resolve("connected"));
          s.once("connect_error", (err) => resolve(err.message));
        }),
      );
      s.disconnect();
    }
    // The holder took one CONNECT of the burst of three.
    expect(outcomes.slice(0, 2)).toEqual(["connected", "connected"]);
    expect(outcomes.slice(2)).toContain("TOO_MANY_NAMESPACES");
    holder.disconnect();
    manager.engine?.close();
  });
});

describe("11. smaller admission fixes", () => {
  let redis: OwnRedis | undefined;
  afterEach(async () => {
    redis?.resume();
    await redis?.kill();
    redis = undefined;
  });

  it("in deny mode, a per-IP count that Redis does not answer refuses new connections with UNAVAILABLE (not TOO_MANY_CONNECTIONS)", async () => {
    redis = await startOwnRedis();
    const url = redis.url;
    const srv = await server(
      { "/s": defineWssRoute({ events: { ping: () => "pong" } }) },
      {
        scale: {
          mode: "cluster",
          adapter: { type: "redis", url },
          stateStore: { type: "redis", url, prefix: `loly-test:deny:${process.pid}:` },
          commandTimeoutMs: 300,
        },
        limits: { onStoreError: "deny" },
      },
    );
    const before = await srv.connected("/s");
    expect(await request(before, "ping")).toEqual({ ok: true, data: "pong" });
    redis.pause();
    expect(await refusal(srv.connect("/s"))).toBe("UNAVAILABLE");
    redis.resume();
  });
});

describe("9. trustProxy has Express's semantics (proxy-addr)", () => {
  const whoami = defineWssRoute({ events: { ip: (ctx) => ctx.req.ip } });
  // The client wrote "6.6.6.6" itself; the proxy in front (the test's 127.0.0.1) appended the address it saw.
  const forwarded = { "x-forwarded-for": "6.6.6.6, 203.0.113.7" };

  it.each([
    [false, "127.0.0.1"],
    [1, "203.0.113.7"],
    [["127.0.0.1"], "203.0.113.7"],
    [["loopback"], "203.0.113.7"],
    [["127.0.0.1", "203.0.113.0/24"], "6.6.6.6"],
    [2, "6.6.6.6"],
    [true, "6.6.6.6"],
  ] as const)("trustProxy %j: the client IP is %s", async (trustProxy, expected) => {
    const srv = await server({ "/w": whoami }, { trustProxy: trustProxy as never });
    const s = await srv.connected("/w", { extraHeaders: forwarded });
    expect((await request(s, "ip")).data).toBe(expected);
  });

  it("a hop count limits per-IP counting to the real client: a client cannot pose as many IPs", async () => {
    const srv = await server({ "/w": whoami }, { trustProxy: 1, limits: { connectionsPerIp: 2 } });
    const spoof = (ip: string) => ({ "x-forwarded-for": `${ip}, 198.51.100.9` });
    await srv.connected("/w", { extraHeaders: spoof("1.1.1.1") });
    await srv.connected("/w", { extraHeaders: spoof("2.2.2.2") });
    expect(await refusal(srv.connect("/w", { extraHeaders: spoof("3.3.3.3") }))).toBe("TOO_MANY_CONNECTIONS");
  });

  it("a bad trustProxy fails start-up naming the entry", async () => {
    const { resolveConfig } = await import("@loly-rt/server");
    expect(() => resolveConfig({ trustProxy: ["10.0.0.0/33"] as never }, {})).toThrow(/trustProxy\[0\]: expected an IP address, a CIDR/);
    expect(() => resolveConfig({ trustProxy: 0 as never }, {})).toThrow(/trustProxy: expected false, true, a hop count/);
  });
});

describe("6. idle HTTP connections are bounded (on the HTTP server Loly creates)", () => {
  const plain = defineWssRoute({ events: {} });

  it("a polling POST whose Content-Length is over maxPayloadBytes is answered 413 before its body is read", async () => {
    const srv = await server({ "/s": plain });
    const poll = await RawPolling.open(srv.url);
    const started = Date.now();
    const answer = await rawHttp(
      srv.port,
      `POST /wss/?EIO=4&transport=polling&sid=${poll.sid} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 6400000\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("idle TCP connections and stalled upgrades are closed once the head is late (10 s)", async () => {
    const srv = await server({ "/s": plain });
    const started = Date.now();
    const idle = Array.from({ length: 20 }, () => openTcp(srv.port, ""));
    const stalled = openTcp(srv.port, "GET /wss/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n");
    const closedAfter = await Promise.all([...idle, stalled].map((c) => c.closed));
    for (const ms of closedAfter) expect(ms - started).toBeLessThan(13_000);
    expect(closedAfter.every((ms) => ms - started >= 9_000)).toBe(true);
  }, 20_000);
});

/** Sends raw HTTP and resolves the first bytes of the answer. */
function rawHttp(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    socket.once("data", (d) => {
      resolve(d.toString());
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

/** A raw TCP connection that sends `text` and then nothing; `closed` resolves with when the server closed it. */
function openTcp(port: number, text: string): { closed: Promise<number> } {
  const socket = connect(port, "127.0.0.1", () => {
    if (text) socket.write(text);
  });
  socket.on("error", () => undefined);
  socket.on("data", () => undefined);
  return { closed: new Promise((resolve) => socket.once("close", () => resolve(Date.now()))) };
}

describe("2. one message, one cap: binary attachments count", () => {
  let runs = 0;
  const upload = defineWssRoute({
    events: {
      upload: () => {
        runs++;
        return "stored";
      },
      ping: () => "pong",
    },
  });

  it("an event whose attachments add up past maxPayloadBytes never reaches its handler; the connection is closed", async () => {
    const srv = await server({ "/s": upload }, { maxPayloadBytes: 65536 });
    const s = await srv.connected("/s");
    const before = runs;
    const closed = new Promise<string>((resolve) => s.once("disconnect", (reason) => resolve(reason)));
    // Ten attachments of 64 KiB: each one fits the cap, the message is ten times over it.
    s.emit(
      "upload",
      Array.from({ length: 10 }, () => Buffer.alloc(65536 - 64, 1)),
    );
    expect(await closed).toBe("transport close");
    expect(runs).toBe(before);
    // Under the cap, attachments still work.
    const ok = await srv.connected("/s");
    expect(await request(ok, "upload", [Buffer.alloc(20_000), Buffer.alloc(20_000)])).toEqual({ ok: true, data: "stored" });
  });

  it("a binary message whose attachments never all arrive is dropped after pingTimeoutMs", async () => {
    const srv = await server({ "/s": upload }, { pingTimeoutMs: 300, pingIntervalMs: 60_000 });
    const raw = await RawSocket.open(srv.url);
    await raw.connect("/s");
    const before = runs;
    raw.send('452-/s,1["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    raw.send(Buffer.alloc(30_000));
    await sleep(600);
    // The partial message was dropped: a new text event is read as a message of its own.
    expect(await raw.emit("/s", ["ping"], 2)).toEqual({ ok: true, data: "pong" });
    expect(runs).toBe(before);
    raw.close();
  });
});

describe("1. a client that never reads cannot grow the server's memory", () => {
  const big = "x".repeat(16_384);
  const route = defineWssRoute({ events: { big: () => big, ping: () => "pong" } });
  const limits = { eventsPerSecond: 1_000_000, burst: 1_000_000, maxBufferedBytes: 256 * 1024 };
  const slowConsumers = async (srv: TestServer): Promise<number> =>
    (await srv.rt.metrics.getSingleMetric("loly_slow_consumers_total")?.get())?.values[0]?.value ?? 0;

  it("websocket: acks piling up for a client that stopped reading close it past limits.maxBufferedBytes; a bystander is unaffected", async () => {
    const srv = await server({ "/s": route }, { limits });
    const bystander = await srv.connected("/s");
    const raw = await RawSocket.open(srv.url);
    await raw.connect("/s");
    raw.stopReading();
    // Far more than the kernel's socket buffers absorb: 3000 acks of 16 KiB (48 MiB).
    for (let i = 0; i < 3000; i++) raw.send(`42/s,${i + 1}["big"]`);
    for (let i = 0; i < 100 && (await slowConsumers(srv)) === 0; i++) await sleep(50);
    expect(await slowConsumers(srv)).toBe(1);
    for (let i = 0; i < 50 && srv.rt.io.engine.clientsCount > 1; i++) await sleep(50);
    expect(srv.rt.io.engine.clientsCount).toBe(1);
    expect(await request(bystander, "ping")).toEqual({ ok: true, data: "pong" });
    raw.close();
  });

  it("polling: a client that posts events and never polls is closed past limits.maxBufferedBytes", async () => {
    const srv = await server({ "/s": route }, { limits });
    const poll = await RawPolling.open(srv.url);
    await poll.post("40/s,");
    await poll.until((p) => p.startsWith("40/s,"));
    for (let i = 0; i < 40; i++) {
      const frames = Array.from({ length: 10 }, (_, j) => `42/s,${i * 10 + j + 1}["big"]`).join("\x1e");
      const { status } = await poll.post(frames);
      if (status !== 200) break;
    }
    expect(await slowConsumers(srv)).toBe(1);
    expect((await poll.poll()).status).toBe(400);
  });

  it("refusals to a flooding client that asks for no ack are capped, not queued", async () => {
    const srv = await server({ "/s": route }, { limits: { eventsPerSecond: 10, burst: 20 } });
    const raw = await RawSocket.open(srv.url);
    await raw.connect("/s");
    raw.stopReading();
    for (let i = 0; i < 5000; i++) raw.send('42/s,["nope"]');
    await sleep(300);
    const dropped = (await srv.rt.metrics.getSingleMetric("loly_refusals_dropped_total")?.get())?.values[0]?.value ?? 0;
    // At most the burst (and what refilled meanwhile) was sent; the rest dropped.
    expect(dropped).toBeGreaterThan(4900);
    raw.close();
  });
});

describe("11. an unexpected failure during admission is INTERNAL, logged with its stack", () => {
  it("is refused as INTERNAL (never as its own message), counted under that code, and logged", async () => {
    const broken = defineWssRoute({
      auth: () => ({
        get id(): string {
          throw new Error("Cannot redefine property: user");
        },
      }),
      events: {},
    });
    const srv = await server({ "/s": broken });
    expect(await refusal(srv.connect("/s"))).toBe("INTERNAL");
    const refused = await srv.rt.metrics.getSingleMetric("loly_connections_refused_total")?.get();
    expect(refused?.values.map((v) => v.labels.code)).toEqual(["INTERNAL"]);
    const line = srv.logs.find((l) => String(l.msg).startsWith("connection admission failed"));
    expect((line?.err as { stack?: string } | undefined)?.stack).toContain("Cannot redefine property: user");
  });
});

describe("11. what handlers throw or return always reaches the client as it should", () => {
  const odd = defineWssRoute({
    events: {
      nullProto: () => {
        throw Object.create(null);
      },
      proxy: () => {
        throw new Proxy(
          {},
          {
            get() {
              throw new Error("trap");
            },
            getPrototypeOf() {
              throw new Error("trap");
            },
          },
        );
      },
      fn: () => () => 1,
      sym: () => Symbol("s"),
      nothing: () => undefined,
    },
  });

  it('a nameless EVENT is BAD_PAYLOAD, not UNKNOWN_EVENT "undefined"', async () => {
    const srv = await server({ "/chat": odd });
    const raw = await RawSocket.open(srv.url);
    await raw.connect("/chat");
    const refusalFrame = raw.nextError("/chat");
    raw.send("42/chat,");
    expect(await refusalFrame).toMatchObject({ code: "BAD_PAYLOAD", message: "An event needs a name" });
    raw.close();
  });

  it.each(["nullProto", "proxy"])("throwing %s (in development) answers INTERNAL and sends __loly:error", async (event) => {
    const srv = await server({ "/chat": odd });
    const s = await srv.connected("/chat");
    const error = new Promise((resolve) => s.once("__loly:error", resolve));
    const answer = await request(s, event);
    expect(answer.ok).toBe(false);
    expect(answer.error.code).toBe("INTERNAL");
    expect(await error).toMatchObject({ code: "INTERNAL", event });
  });

  it.each(["fn", "sym"])("a handler returning a %s answers INTERNAL instead of { ok: true } with the data dropped", async (event) => {
    const srv = await server({ "/chat": odd });
    const s = await srv.connected("/chat");
    const answer = await request(s, event);
    expect(answer).toMatchObject({ ok: false, error: { code: "INTERNAL" } });
    expect(await request(s, "nothing")).toEqual({ ok: true });
  });
});

describe("10. /metrics can be kept off the public port", () => {
  it("with metrics.port, /metrics is served on its own listener (127.0.0.1) and is a 404 on the app's port", async () => {
    const srv = await server({ "/s": defineWssRoute({ events: {} }) }, { metrics: { port: 0 } });
    expect((await fetch(`${srv.url}/metrics`)).status).toBe(404);
    const address = srv.rt.metricsServer?.address();
    expect(address).toMatchObject({ address: "127.0.0.1" });
    const res = await fetch(`http://127.0.0.1:${(address as { port: number }).port}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("loly_connections");
  });

  it("without metrics.port, /metrics stays on the app's port (the default the security guide warns about)", async () => {
    const srv = await server({ "/s": defineWssRoute({ events: {} }) });
    expect((await fetch(`${srv.url}/metrics`)).status).toBe(200);
    expect(srv.rt.metricsServer).toBeUndefined();
  });
});
