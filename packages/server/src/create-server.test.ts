import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { nextError, nextEvent, refusal, request, sleep, startServer, type TestServer } from "./test-helpers.js";
import { calls, chat, privateRoute, rooms, USERS } from "./test-routes.js";

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
    expect((logged?.err as { stack?: string } | undefined)?.stack).toContain("kaboom");
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
