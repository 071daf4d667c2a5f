import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import * as v from "valibot";
import { defineWssRoute, LolyError } from "@loly-rt/core";
import { handshakeRefusal, nextError, nextEvent, refusal, request, sleep, startServer, type TestServer } from "./test-helpers.js";

interface User {
  id: string;
  name: string;
  role: "admin" | "member";
}

const USERS: Record<string, User> = {
  "token-alice": { id: "alice", name: "Alice", role: "admin" },
  "token-bob": { id: "bob", name: "Bob", role: "member" },
};

const calls: Record<string, number> = {};
const count = (name: string): void => {
  calls[name] = (calls[name] ?? 0) + 1;
};

const chat = defineWssRoute({
  auth: ({ handshake }) => {
    const token = handshake.auth.token;
    if (token === undefined) return null;
    const user = USERS[String(token)];
    if (!user) throw new Error("bad token");
    return user;
  },
  onConnect: async (ctx) => {
    await ctx.actions.join("lobby");
  },
  events: {
    ping: () => "pong",
    whoami: (ctx) => ({ user: ctx.user, data: ctx.data }),
    echo: {
      schema: z.object({ text: z.string().max(20) }),
      handler: (ctx) => {
        count("echo");
        return ctx.data;
      },
    },
    echoValibot: {
      schema: v.object({ n: v.pipe(v.number(), v.minValue(0)) }),
      handler: (ctx) => {
        count("echoValibot");
        return ctx.data.n * 2;
      },
    },
    transform: {
      schema: z.object({ n: z.string().transform((s) => Number(s)) }),
      handler: (ctx) => ctx.data.n + 1,
    },
    adminOnly: {
      guard: ({ user }) => user?.role === "admin",
      handler: () => {
        count("adminOnly");
        return "secret";
      },
    },
    signedIn: {
      requireAuth: true,
      handler: (ctx) => ctx.user?.id,
    },
    limited: {
      rateLimit: { eventsPerSecond: 1, burst: 2 },
      handler: () => {
        count("limited");
        return "ok";
      },
    },
    boom: () => {
      throw new Error("kaboom: secret detail");
    },
    boomAsync: async () => {
      await sleep(1);
      throw new Error("async kaboom");
    },
    refuseWithCode: () => {
      throw new LolyError("FORBIDDEN", "not your room", { room: "x" });
    },
    say: {
      schema: z.object({ room: z.string(), text: z.string() }),
      handler: (ctx) => {
        ctx.actions.toRoom(ctx.data.room).emit("said", { from: ctx.user?.id ?? null, text: ctx.data.text });
        return true;
      },
    },
    joinRoom: {
      schema: z.string(),
      handler: async (ctx) => {
        await ctx.actions.join(ctx.data);
        return [...ctx.socket.rooms];
      },
    },
    dm: {
      schema: z.object({ to: z.string(), text: z.string() }),
      handler: (ctx) => ctx.actions.toUser(ctx.data.to).emit("dm", { from: ctx.user?.id, text: ctx.data.text }),
    },
    log: (ctx) => {
      ctx.log.info({ marker: "log-test" }, "hello from handler");
      return ctx.requestId;
    },
    counter: async (ctx) => ctx.state.incr("hits"),
    online: async (ctx) => (await ctx.presence.users()).sort(),
    reqInfo: (ctx) => ({ ip: ctx.req.ip, cookies: ctx.req.cookies, ns: ctx.namespace, params: ctx.params }),
    replyMe: (ctx) => {
      ctx.actions.reply("replied", 42);
      ctx.actions.error("BAD_PAYLOAD", "custom refusal", { why: "test" });
    },
  },
});

const privateRoute = defineWssRoute({
  requireAuth: true,
  auth: ({ handshake }) => USERS[String(handshake.auth.token)] ?? null,
  events: { hello: (ctx) => `hi ${ctx.user?.name}` },
});

const rooms = defineWssRoute({
  events: { where: (ctx) => ({ params: ctx.params, ns: ctx.namespace }) },
});

describe("event pipeline (single instance)", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer(
      { "/chat": chat, "/private": privateRoute, "/rooms/[id]": rooms },
      { maxPayloadBytes: 2000, limits: { eventsPerSecond: 1000, burst: 1000 } },
    );
  });
  afterAll(async () => {
    await t.close();
  });
  afterEach(async () => {
    for (const k of Object.keys(calls)) delete calls[k];
    await t.disconnectAll();
  });

  it("acks a bare handler's return as { ok: true, data }", async () => {
    const s = await t.connected("/chat");
    expect(await request(s, "ping")).toEqual({ ok: true, data: "pong" });
  });

  it("refuses an invalid payload (zod) with BAD_PAYLOAD and issues; the handler does not run", async () => {
    const s = await t.connected("/chat");
    const errP = nextError(s);
    const res = await request(s, "echo", { text: 42 });
    expect(res.ok).toBe(false);
    expect(res.error.code).toBe("BAD_PAYLOAD");
    expect(res.error.details.issues[0].path).toBe("text");
    expect(typeof res.error.details.issues[0].message).toBe("string");
    const err = await errP;
    expect(err).toMatchObject({ code: "BAD_PAYLOAD", event: "echo" });
    expect(err.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(calls.echo).toBeUndefined();
    expect(await request(s, "echo", { text: "hi" })).toEqual({ ok: true, data: { text: "hi" } });
    expect(calls.echo).toBe(1);
  });

  it("refuses an invalid payload (valibot) with BAD_PAYLOAD; the handler does not run", async () => {
    const s = await t.connected("/chat");
    const res = await request(s, "echoValibot", { n: -1 });
    expect(res.error.code).toBe("BAD_PAYLOAD");
    expect(res.error.details.issues[0].path).toBe("n");
    expect(calls.echoValibot).toBeUndefined();
    expect(await request(s, "echoValibot", { n: 4 })).toEqual({ ok: true, data: 8 });
  });

  it("hands the handler the schema's transformed output", async () => {
    const s = await t.connected("/chat");
    expect(await request(s, "transform", { n: "41" })).toEqual({ ok: true, data: 42 });
  });

  it("emits __loly:error without an ack too", async () => {
    const s = await t.connected("/chat");
    const errP = nextError(s);
    s.emit("echo", "not an object");
    expect((await errP).code).toBe("BAD_PAYLOAD");
  });

  it("refuses with FORBIDDEN when a guard returns false", async () => {
    const bob = await t.connected("/chat", { auth: { token: "token-bob" } });
    const alice = await t.connected("/chat", { auth: { token: "token-alice" } });
    expect((await request(bob, "adminOnly")).error.code).toBe("FORBIDDEN");
    expect(calls.adminOnly).toBeUndefined();
    expect(await request(alice, "adminOnly")).toEqual({ ok: true, data: "secret" });
  });

  it("refuses anonymous sockets on a requireAuth event with UNAUTHORIZED", async () => {
    const anon = await t.connected("/chat");
    expect((await request(anon, "signedIn")).error.code).toBe("UNAUTHORIZED");
    const bob = await t.connected("/chat", { auth: { token: "token-bob" } });
    expect(await request(bob, "signedIn")).toEqual({ ok: true, data: "bob" });
  });

  it("refuses connections to a requireAuth route without a user (connect_error UNAUTHORIZED)", async () => {
    expect(await refusal(t.connect("/private"))).toBe("UNAUTHORIZED");
    expect(await refusal(t.connect("/private", { auth: { token: "nope" } }))).toBe("UNAUTHORIZED");
    const ok = await t.connected("/private", { auth: { token: "token-alice" } });
    expect(await request(ok, "hello")).toEqual({ ok: true, data: "hi Alice" });
  });

  it("refuses a connection whose auth hook throws (UNAUTHORIZED)", async () => {
    expect(await refusal(t.connect("/chat", { auth: { token: "forged" } }))).toBe("UNAUTHORIZED");
  });

  it("takes identity only from the auth hook: payload, handshake and headers cannot spoof it", async () => {
    const s = await t.connected("/chat", {
      auth: { token: "token-bob", userId: "alice", user: { id: "alice", role: "admin" } },
      extraHeaders: { "x-user-id": "alice", "x-forwarded-for": "10.9.9.9" },
      query: { userId: "alice" },
    });
    const res = await request(s, "whoami", { user: { id: "alice" }, userId: "alice" });
    expect(res.data.user).toEqual(USERS["token-bob"]);
    expect((await request(s, "adminOnly")).error.code).toBe("FORBIDDEN");
    // x-forwarded-for is ignored without trustProxy
    expect((await request(s, "reqInfo")).data.ip).toBe("127.0.0.1");
    const anon = await t.connected("/chat", { auth: { userId: "alice" } });
    expect((await request(anon, "whoami")).data.user).toBeNull();
  });

  it("refuses unknown events with UNKNOWN_EVENT", async () => {
    const s = await t.connected("/chat");
    const res = await request(s, "nope");
    expect(res).toEqual({ ok: false, error: { code: "UNKNOWN_EVENT", message: 'Unknown event "nope"' } });
  });

  it("answers INTERNAL when a handler throws (sync or async); the socket lives on", async () => {
    const s = await t.connected("/chat");
    const res = await request(s, "boom");
    expect(res.error.code).toBe("INTERNAL");
    expect((await request(s, "boomAsync")).error.code).toBe("INTERNAL");
    expect(s.connected).toBe(true);
    expect(await request(s, "ping")).toEqual({ ok: true, data: "pong" });
    const logged = t.logs.find((l) => l.msg === "handler failed: kaboom: secret detail");
    expect(logged).toBeDefined();
    expect((logged?.err as { stack?: string }).stack).toContain("kaboom");
  });

  it("passes a LolyError's own code and details to the client", async () => {
    const s = await t.connected("/chat");
    expect(await request(s, "refuseWithCode")).toEqual({
      ok: false,
      error: { code: "FORBIDDEN", message: "not your room", details: { room: "x" } },
    });
  });

  it("refuses with RATE_LIMIT and retryAfterMs when an event's bucket is empty", async () => {
    const s = await t.connected("/chat");
    const results = await Promise.all([1, 2, 3, 4].map(() => request(s, "limited")));
    const ok = results.filter((r) => r.ok).length;
    const limited = results.filter((r) => !r.ok);
    expect(ok).toBe(2);
    expect(limited[0].error.code).toBe("RATE_LIMIT");
    expect(limited[0].error.details.retryAfterMs).toBeGreaterThan(0);
    expect(calls.limited).toBe(2);
    // another socket has its own bucket
    const other = await t.connected("/chat");
    expect((await request(other, "limited")).ok).toBe(true);
  });

  it("never lets an oversized payload reach a handler", async () => {
    const s = await t.connected("/chat");
    const closed = new Promise<string>((resolve) => s.once("disconnect", (reason) => resolve(reason)));
    s.emit("echo", { text: "x".repeat(5000) });
    expect(await closed).toBe("transport close");
    expect(calls.echo).toBeUndefined();
  });

  it("broadcasts to rooms and to users", async () => {
    const alice = await t.connected("/chat", { auth: { token: "token-alice" } });
    const bob = await t.connected("/chat", { auth: { token: "token-bob" } });
    const bob2 = await t.connected("/chat", { auth: { token: "token-bob" } });
    const got = nextEvent(bob, "said");
    expect((await request(alice, "say", { room: "lobby", text: "hi all" })).ok).toBe(true);
    expect(await got).toEqual({ from: "alice", text: "hi all" });
    const dm1 = nextEvent(bob, "dm");
    const dm2 = nextEvent(bob2, "dm");
    await request(alice, "dm", { to: "bob", text: "psst" });
    expect(await dm1).toEqual({ from: "alice", text: "psst" });
    expect(await dm2).toEqual({ from: "alice", text: "psst" });
  });

  it("refuses joining a reserved user room", async () => {
    const s = await t.connected("/chat");
    const res = await request(s, "joinRoom", "user:bob");
    expect(res.error.code).toBe("FORBIDDEN");
    const ok = await request(s, "joinRoom", "games");
    expect(ok.data).toContain("games");
  });

  it("reply and error actions reach the caller", async () => {
    const s = await t.connected("/chat");
    const replied = nextEvent(s, "replied");
    const err = nextError(s);
    await request(s, "replyMe");
    expect(await replied).toBe(42);
    expect(await err).toMatchObject({ code: "BAD_PAYLOAD", message: "custom refusal", details: { why: "test" }, event: "replyMe" });
  });

  it("logs carry namespace, socketId, userId, event and requestId as top-level keys", async () => {
    const s = await t.connected("/chat", { auth: { token: "token-alice" } });
    const res = await request(s, "log");
    const line = t.logs.find((l) => l.marker === "log-test" && l.requestId === res.data);
    expect(line).toMatchObject({ namespace: "/chat", socketId: s.id, userId: "alice", event: "log", requestId: res.data });
  });

  it("gives a fresh requestId per event", async () => {
    const s = await t.connected("/chat");
    const a = await request(s, "log");
    const b = await request(s, "log");
    expect(a.data).not.toBe(b.data);
  });

  it("exposes state, presence, request info and dynamic params", async () => {
    const alice = await t.connected("/chat", { auth: { token: "token-alice" } });
    await t.connected("/chat", { auth: { token: "token-bob" } });
    const first = (await request(alice, "counter")).data as number;
    expect((await request(alice, "counter")).data).toBe(first + 1);
    expect((await request(alice, "online")).data).toEqual(expect.arrayContaining(["alice", "bob"]));
    const info = await request(alice, "reqInfo");
    expect(info.data).toMatchObject({ ip: "127.0.0.1", ns: "/chat", params: {} });
    const r = await t.connected("/rooms/42");
    expect((await request(r, "where")).data).toEqual({ params: { id: "42" }, ns: "/rooms/42" });
  });

  it("parses cookies from the handshake", async () => {
    const s = await t.connected("/chat", { extraHeaders: { cookie: "a=1; b=hello%20world" } });
    expect((await request(s, "reqInfo")).data.cookies).toEqual({ a: "1", b: "hello world" });
  });

  it("removes a user from presence when their socket leaves", async () => {
    const carol = await t.connected("/chat", { auth: { token: "token-bob" } });
    const watcher = await t.connected("/chat", { auth: { token: "token-alice" } });
    expect((await request(watcher, "online")).data).toContain("bob");
    carol.disconnect();
    // other bob sockets from earlier tests may still be connected; wait for this one to leave
    await sleep(50);
    const ids = await t.rt.io.of("/chat").fetchSockets();
    expect(ids.find((x) => x.id === carol.id)).toBeUndefined();
  });
});

describe("global rate limit", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ "/chat": chat }, { limits: { eventsPerSecond: 1, burst: 3 } });
  });
  afterAll(async () => {
    await t.close();
  });

  it("blocks spam beyond the socket's global bucket, whatever the event", async () => {
    const s = await t.connected("/chat");
    const results = await Promise.all(Array.from({ length: 6 }, () => request(s, "ping")));
    expect(results.filter((r) => r.ok).length).toBe(3);
    const refused = results.find((r) => !r.ok);
    expect(refused.error.code).toBe("RATE_LIMIT");
    expect(refused.error.details.retryAfterMs).toBeGreaterThan(0);
    // unknown events spend the same bucket
    expect((await request(s, "nope")).error.code).toBe("RATE_LIMIT");
  });
});

describe("connection security", () => {
  it("refuses a foreign origin with FORBIDDEN_ORIGIN, over websocket and polling", async () => {
    const t = await startServer({ "/chat": chat }, { allowedOrigins: ["https://app.example.com"] });
    try {
      // Refused at the Engine.IO handshake: a stock client reports a transport error carrying the answer.
      expect(await handshakeRefusal(t.connect("/chat", { extraHeaders: { origin: "https://evil.example.com" } }))).toEqual({
        type: "TransportError",
        status: 400,
        body: undefined,
      });
      expect(
        await handshakeRefusal(t.connect("/chat", { transports: ["polling"], extraHeaders: { origin: "https://evil.example.com" } })),
      ).toEqual({ type: "TransportError", status: 403, body: { code: 4, message: "FORBIDDEN_ORIGIN" } });
      const ok = await t.connected("/chat", { extraHeaders: { origin: "https://app.example.com" } });
      expect(ok.connected).toBe(true);
    } finally {
      await t.close();
    }
  });

  it("limits connections per IP and frees the slot when one leaves", async () => {
    const t = await startServer({ "/chat": chat }, { limits: { connectionsPerIp: 2 } });
    try {
      const a = await t.connected("/chat");
      await t.connected("/chat");
      expect(await refusal(t.connect("/chat"))).toBe("TOO_MANY_CONNECTIONS");
      a.disconnect();
      await sleep(100);
      const c = await t.connected("/chat");
      expect(c.connected).toBe(true);
    } finally {
      await t.close();
    }
  });

  it("uses x-forwarded-for for the client IP only with trustProxy", async () => {
    const t = await startServer({ "/chat": chat }, { trustProxy: true, limits: { connectionsPerIp: 1 } });
    try {
      const a = await t.connected("/chat", { extraHeaders: { "x-forwarded-for": "203.0.113.7, 10.0.0.1" } });
      expect((await request(a, "reqInfo")).data.ip).toBe("203.0.113.7");
      // another forwarded client is another IP
      const b = await t.connected("/chat", { extraHeaders: { "x-forwarded-for": "203.0.113.8" } });
      expect(b.connected).toBe(true);
      expect(await refusal(t.connect("/chat", { extraHeaders: { "x-forwarded-for": "203.0.113.7" } }))).toBe("TOO_MANY_CONNECTIONS");
    } finally {
      await t.close();
    }
  });

  it("sends no error text or stack to clients in production", async () => {
    const prev = process.env.NODE_ENV;
    process.env.NODE_ENV = "production";
    try {
      const t = await startServer({ "/chat": chat }, { allowedOrigins: ["https://app.example.com"] });
      try {
        const s = await t.connected("/chat");
        const res = await request(s, "boom");
        expect(res).toEqual({ ok: false, error: { code: "INTERNAL", message: "Internal server error" } });
        expect(JSON.stringify(res)).not.toContain("kaboom");
      } finally {
        await t.close();
      }
    } finally {
      process.env.NODE_ENV = prev;
    }
  });
});

describe("lifecycle", () => {
  it("runs onDisconnect hooks on close() and resolves listen() with the bound port", async () => {
    const left: string[] = [];
    const route = defineWssRoute({
      auth: ({ handshake }) => (handshake.auth.token ? { id: String(handshake.auth.token) } : null),
      onDisconnect: async (ctx) => {
        await sleep(5);
        left.push(`${ctx.user?.id}:${ctx.reason}`);
      },
      events: {},
    });
    const t = await startServer({ "/x": route });
    expect(t.port).toBeGreaterThan(0);
    await t.connected("/x", { auth: { token: "u1" } });
    await t.rt.close();
    expect(left).toEqual(["u1:server namespace disconnect"]);
    await t.rt.close(); // idempotent
  });

  it("runs onDisconnect after presence has forgotten the leaving socket", async () => {
    const seen: string[][] = [];
    const route = defineWssRoute({
      auth: ({ handshake }) => ({ id: String(handshake.auth.id) }),
      onDisconnect: async (ctx) => {
        seen.push((await ctx.presence.users()).sort());
      },
      events: {},
    });
    const t = await startServer({ "/p": route });
    try {
      const a = await t.connected("/p", { auth: { id: "a" } });
      await t.connected("/p", { auth: { id: "b" } });
      a.disconnect();
      for (let i = 0; i < 50 && seen.length === 0; i++) await sleep(10);
      expect(seen[0]).toEqual(["b"]);
    } finally {
      await t.close();
    }
  });

  it("serves Prometheus metrics on metrics.path", async () => {
    const t = await startServer({ "/chat": chat });
    try {
      const s = await t.connected("/chat");
      await request(s, "ping");
      await request(s, "nope");
      const res = await fetch(`${t.url}/metrics`);
      expect(res.status).toBe(200);
      const body = await res.text();
      expect(body).toContain('loly_connections{namespace="/chat"} 1');
      expect(body).toContain('loly_events_total{namespace="/chat",event="ping",outcome="ok"} 1');
      expect(body).toContain('loly_errors_total{namespace="/chat",code="UNKNOWN_EVENT"} 1');
      expect(body).toContain("# TYPE loly_handler_duration_seconds histogram");
      expect(body).toContain('loly_handler_duration_seconds_bucket{le="+Inf",namespace="/chat",event="ping"} 1');
      expect(body).toContain('loly_handler_duration_seconds_count{namespace="/chat",event="ping"} 1');
      expect(body).toContain('loly_events_total{namespace="/chat",event="echo",outcome="ok"} 0');
      expect((await fetch(`${t.url}/other`)).status).toBe(404);
    } finally {
      await t.close();
    }
  });
});
