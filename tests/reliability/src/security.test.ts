/**
 * Security on one instance: origin allow-list over websocket and polling, CORS answers,
 * identity only from the auth hook, revalidation, x-forwarded-for only with trustProxy,
 * per-IP connection and event limits against one client with many sockets, secrets never in
 * logs, and no error text or stack to clients in production.
 */
import { Writable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { LolyError, defineWssRoute, type RealtimeStateStore } from "@loly-rt/core";
import { createLogger, resolveConfig } from "@loly-rt/server";
import { createMemoryStateStore } from "@loly-rt/state-memory";
import { lolySocket } from "@loly-rt/client";
import { handshakeRefusal, nextError, refusal, request, startServer, type TestServer } from "../../../packages/server/src/test-helpers.js";
import { RawPolling, RawSocket, refusedHandshake } from "./support/raw.js";

const APP = "https://app.example.com";
const EVIL = "https://evil.example.com";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let runs = 0;
const route = defineWssRoute({
  auth: ({ handshake }) => {
    const token = handshake.auth.token;
    if (token === undefined) return null;
    if (typeof token !== "string" || !token.startsWith("tok-")) throw new Error(`bad token ${String(token)}`);
    return { id: token.slice(4), role: token.endsWith("-admin") ? "admin" : "user" };
  },
  events: {
    whoami: (ctx) => {
      runs++;
      return { user: ctx.user, ip: ctx.req.ip, data: ctx.socket.data };
    },
    steal: (ctx) => {
      runs++;
      (ctx.socket.data as Record<string, unknown>).user = { id: "admin" };
      return "stolen";
    },
    echo: { schema: z.object({ text: z.string() }), handler: (ctx) => ctx.data },
    perIp: { rateLimit: { eventsPerSecond: 0.01, burst: 4, scope: "ip" }, handler: () => "ok" },
    ping: () => "pong",
  },
});

describe("origin allow-list and CORS", () => {
  let listed: TestServer;
  let open: TestServer;
  beforeAll(async () => {
    [listed, open] = await Promise.all([
      startServer({ "/s": route }, { allowedOrigins: [APP] }),
      startServer({ "/s": route }, { allowedOrigins: "*" }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([listed?.close(), open?.close()]);
  });

  it.each(["websocket", "polling"] as const)(
    "%s: a foreign Origin is refused at the handshake (FORBIDDEN_ORIGIN) and no session is made",
    async (transport) => {
      const before = runs;
      const evil = listed.connect("/s", { transports: [transport], extraHeaders: { origin: EVIL }, auth: { token: "tok-victim" } });
      const refused = await handshakeRefusal(evil);
      expect(refused.type).toBe("TransportError");
      if (transport === "polling") expect(refused).toMatchObject({ status: 403, body: { message: "FORBIDDEN_ORIGIN" } });
      else expect(refused.status).toBe(400);
      expect(listed.rt.io.engine.clientsCount).toBe(0);
      const good = await listed.connected("/s", { transports: [transport], extraHeaders: { origin: APP } });
      expect(await request(good, "ping")).toEqual({ ok: true, data: "pong" });
      expect(runs).toBe(before);
      const refusedMetric = await listed.rt.metrics.getSingleMetric("loly_connections_refused_total")?.get();
      expect(
        refusedMetric?.values.find((v) => v.labels.namespace === "(handshake)" && v.labels.code === "FORBIDDEN_ORIGIN")?.value,
      ).toBeGreaterThan(0);
      evil.close();
      good.close();
      for (let i = 0; i < 50 && (listed.rt.io.engine.clientsCount as number) > 0; i++) await sleep(20);
      expect(listed.rt.io.engine.clientsCount).toBe(0);
    },
  );

  it("lolySocket reports FORBIDDEN_ORIGIN for a refused handshake and stops retrying", async () => {
    const chat = lolySocket("/s", { url: listed.url, transports: ["polling"], extraHeaders: { origin: EVIL } });
    const err = await chat.ready().then(
      () => undefined,
      (e: unknown) => e as { code: string },
    );
    expect(err?.code).toBe("FORBIDDEN_ORIGIN");
    expect(chat.socket.active).toBe(false);
    chat.close();
  });

  it("raw handshakes: foreign, 'null', look-alike origins are refused before a session exists; case and default ports do not matter", async () => {
    for (const origin of [EVIL, "null", `${APP}.evil.com`, "http://app.example.com", `${APP}:444`]) {
      for (const transport of ["websocket", "polling"] as const) {
        const answer = await refusedHandshake(listed.url, transport, { origin });
        expect(answer.status, `${transport} ${origin}`).toBe(transport === "polling" ? 403 : 400);
        expect(answer.body, `${transport} ${origin}`).toContain("FORBIDDEN_ORIGIN");
      }
    }
    expect(listed.rt.io.engine.clientsCount).toBe(0);
    for (const origin of [APP.toUpperCase(), `${APP}:443`]) {
      const ok = await RawSocket.open(listed.url, { headers: { origin } });
      expect(await ok.connect("/s", {})).toMatch(/^40\/s,/);
      ok.close();
      const poll = await RawPolling.open(listed.url, { headers: { origin } });
      await poll.post("40/s,{}");
      expect(await poll.until((p) => p.startsWith("4"))).toMatch(/^40\/s,/);
    }
  });

  it("CORS with a list: the allowed origin is echoed with credentials, a foreign one gets no grant, never *", async () => {
    const hs = (origin: string, method = "GET"): Promise<Response> =>
      fetch(`${listed.url}/wss/?EIO=4&transport=polling`, {
        method,
        headers: method === "OPTIONS" ? { origin, "access-control-request-method": "POST" } : { origin },
      });
    for (const method of ["GET", "OPTIONS"]) {
      const ok = await hs(APP, method);
      expect(ok.headers.get("access-control-allow-origin")).toBe(APP);
      expect(ok.headers.get("access-control-allow-credentials")).toBe("true");
      expect(ok.headers.get("vary") ?? "").toMatch(/origin/i);
      await ok.text();
      const evil = await hs(EVIL, method);
      expect(evil.headers.get("access-control-allow-origin")).toBeNull();
      expect(evil.headers.get("access-control-allow-credentials")).toBeNull();
      await evil.text();
    }
  });

  it('CORS with "*": answers * and never with credentials', async () => {
    for (const method of ["GET", "OPTIONS"]) {
      const res = await fetch(`${open.url}/wss/?EIO=4&transport=polling`, {
        method,
        headers: method === "OPTIONS" ? { origin: EVIL, "access-control-request-method": "POST" } : { origin: EVIL },
      });
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-credentials")).not.toBe("true");
      await res.text();
    }
  });
});

describe("identity", () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer({ "/s": route });
  });
  afterEach(() => srv.disconnectAll());
  afterAll(async () => {
    await srv?.close();
  });

  it("comes only from the auth hook: handshake extras, headers, query and payload cannot set it", async () => {
    const s = await srv.connected("/s", {
      auth: { token: "tok-alice", userId: "admin", user: { id: "admin", role: "admin" } },
      extraHeaders: { "x-user-id": "admin", "x-forwarded-user": "admin" },
      query: { userId: "admin", user: "admin" },
    });
    const me = await request(s, "whoami", { user: { id: "admin" }, userId: "admin" });
    expect(me.data.user).toEqual({ id: "alice", role: "user" });
    expect(me.data.data).toEqual({ user: { id: "alice", role: "user" } });
  });

  it("a handler cannot replace socket.data.user", async () => {
    const s = await srv.connected("/s", { auth: { token: "tok-bob" } });
    expect((await request(s, "steal")).ok).toBe(false);
    expect((await request(s, "whoami")).data.user).toEqual({ id: "bob", role: "user" });
  });

  it("an anonymous socket stays anonymous whatever it sends", async () => {
    const s = await srv.connected("/s", { auth: { userId: "admin" }, extraHeaders: { authorization: "Bearer admin" } });
    expect((await request(s, "whoami", { user: "admin" })).data.user).toBeNull();
  });

  it("revalidate() re-runs auth: sockets whose hook now refuses or returns another user are cut off, the rest stay", async () => {
    let revoked = new Set<string>();
    const roles = new Map<string, string>();
    const r = defineWssRoute({
      auth: ({ handshake }) => {
        const token = String(handshake.auth.token ?? "");
        if (!token) return null;
        if (revoked.has(token)) throw new Error("revoked");
        const id = token.split(":")[0] as string;
        return { id, role: roles.get(id) ?? "user" };
      },
      events: { ping: () => "pong" },
    });
    const s2 = await startServer({ "/r": r, "/rooms/[id]": r });
    try {
      const keep = await s2.connected("/r", { auth: { token: "carol:s1" } });
      const revokedSock = await s2.connected("/r", { auth: { token: "dave:s1" } });
      const demoted = await s2.connected("/rooms/7", { auth: { token: "erin:s1" } });
      const anon = await s2.connected("/r");
      revoked = new Set(["dave:s1"]);
      roles.set("erin", "guest");
      const told = nextError(revokedSock);
      const result = await s2.rt.revalidate();
      expect(result).toEqual({ instances: 1, checked: 4, disconnected: 2, failed: 0, missing: [] });
      expect((await told).code).toBe("UNAUTHORIZED");
      await sleep(50);
      expect(revokedSock.connected).toBe(false);
      expect(demoted.connected).toBe(false);
      expect(keep.connected).toBe(true);
      expect(anon.connected).toBe(true);
      // filters: by user, by namespace (name or pattern)
      revoked.add("carol:s1");
      expect(await s2.rt.revalidate({ userId: "nobody" })).toMatchObject({ checked: 0, disconnected: 0 });
      expect(await s2.rt.revalidate({ namespace: "/rooms/[id]" })).toMatchObject({ checked: 0 });
      expect(await s2.rt.revalidate({ userId: "carol", namespace: "/r" })).toMatchObject({ checked: 1, disconnected: 1 });
      await expect(s2.rt.revalidate({ userId: {} } as never)).rejects.toThrow(/filter/);
    } finally {
      await s2.close();
    }
  });

  it("revalidate() leaves a socket connected when its auth hook is unavailable or too slow", async () => {
    let mode: "ok" | "down" | "slow" = "ok";
    const r = defineWssRoute({
      auth: async ({ handshake }) => {
        if (mode === "down") throw new LolyError("UNAVAILABLE", "session store down");
        if (mode === "slow") await new Promise(() => undefined);
        return { id: String(handshake.auth.token) };
      },
      events: { ping: () => "pong" },
    });
    const s2 = await startServer({ "/r": r }, { handlerTimeoutMs: 200 });
    try {
      const s = await s2.connected("/r", { auth: { token: "frank" } });
      mode = "down";
      expect(await s2.rt.revalidate()).toEqual({ instances: 1, checked: 1, disconnected: 0, failed: 1, missing: [] });
      mode = "slow";
      expect(await s2.rt.revalidate()).toEqual({ instances: 1, checked: 1, disconnected: 0, failed: 1, missing: [] });
      expect(s.connected).toBe(true);
    } finally {
      await s2.close();
    }
  });
});

describe("client IP and per-IP limits", () => {
  it("x-forwarded-for is ignored without trustProxy: spoofed addresses share the real IP's budget", async () => {
    const srv = await startServer({ "/s": route }, { limits: { connectionsPerIp: 2 } });
    try {
      const a = await srv.connected("/s", { extraHeaders: { "x-forwarded-for": "1.1.1.1" } });
      await srv.connected("/s", { extraHeaders: { "x-forwarded-for": "2.2.2.2" } });
      expect(await refusal(srv.connect("/s", { extraHeaders: { "x-forwarded-for": "3.3.3.3" } }))).toBe("TOO_MANY_CONNECTIONS");
      expect((await request(a, "whoami")).data.ip).toBe("127.0.0.1");
    } finally {
      await srv.close();
    }
  });

  it("x-forwarded-for is the client IP with trustProxy: each forwarded client has its own budget", async () => {
    const srv = await startServer({ "/s": route }, { trustProxy: true, limits: { connectionsPerIp: 1 } });
    try {
      const a = await srv.connected("/s", { extraHeaders: { "x-forwarded-for": "1.1.1.1, 10.0.0.1" } });
      await srv.connected("/s", { extraHeaders: { "x-forwarded-for": "2.2.2.2" } });
      expect(await refusal(srv.connect("/s", { extraHeaders: { "x-forwarded-for": "1.1.1.1" } }))).toBe("TOO_MANY_CONNECTIONS");
      expect((await request(a, "whoami")).data.ip).toBe("1.1.1.1");
    } finally {
      await srv.close();
    }
  });

  it("one client opening many sockets at once (websocket and polling) gets exactly connectionsPerIp", async () => {
    const limit = 5;
    const srv = await startServer({ "/s": route }, { limits: { connectionsPerIp: limit } });
    try {
      const attempts = Array.from({ length: 30 }, (_, i) => {
        const s = srv.connect("/s", { transports: [i % 3 === 0 ? "polling" : "websocket"] });
        return new Promise<string>((resolve) => {
          s.once("connect", () => resolve("connected"));
          s.once("connect_error", (err) => resolve(err.message));
        });
      });
      const results = await Promise.all(attempts);
      expect(results.filter((r) => r === "connected")).toHaveLength(limit);
      expect(results.filter((r) => r === "TOO_MANY_CONNECTIONS")).toHaveLength(30 - limit);
    } finally {
      await srv.close();
    }
  });

  it("Engine.IO connections that never CONNECT do not outlive the limit", async () => {
    const limit = 3;
    const srv = await startServer({ "/s": route }, { limits: { connectionsPerIp: limit } });
    const raws: RawSocket[] = [];
    try {
      for (let i = 0; i < 20; i++) raws.push(await RawSocket.open(srv.url));
      const started = Date.now();
      for (let i = 0; i < 100 && raws.filter((r) => r.isOpen).length > limit; i++) await sleep(50);
      console.log(`[figure] over-limit idle Engine.IO connections closed after ${Date.now() - started} ms`);
      expect(raws.filter((r) => r.isOpen).length).toBe(limit);
    } finally {
      for (const r of raws) r.close();
      await srv.close();
    }
  });

  it("limits.scope ip: one bucket for every socket of the client; per-event ip buckets too", async () => {
    const srv = await startServer({ "/s": route }, { limits: { scope: "ip", burst: 10, eventsPerSecond: 0.01, connectionsPerIp: 100 } });
    try {
      const sockets = await Promise.all(Array.from({ length: 5 }, () => srv.connected("/s")));
      const results = await Promise.all(sockets.flatMap((s) => Array.from({ length: 6 }, () => request(s, "ping"))));
      expect(results.filter((r) => r.ok)).toHaveLength(10);
      expect(results.filter((r) => !r.ok && r.error.code === "RATE_LIMIT")).toHaveLength(20);
    } finally {
      await srv.close();
    }
    const perEvent = await startServer({ "/s": route }, { limits: { connectionsPerIp: 100 } });
    try {
      const sockets = await Promise.all(Array.from({ length: 4 }, () => perEvent.connected("/s")));
      const results = await Promise.all(sockets.flatMap((s) => Array.from({ length: 3 }, () => request(s, "perIp"))));
      expect(results.filter((r) => r.ok)).toHaveLength(4);
    } finally {
      await perEvent.close();
    }
  });
});

describe("secrets never reach the logs", () => {
  it("tokens, cookies and authorization headers are redacted, even when a handler logs the whole request", async () => {
    const SECRETS = ["SECRET-TOKEN-1f2e", "SECRET-COOKIE-3d4c", "SECRET-AUTHZ-5b6a", "SECRET-QUERY-7980", "SECRET-PASSWORD-abcd"];
    const logging = defineWssRoute({
      auth: (ctx) => {
        ctx.log.info({ handshake: ctx.handshake, req: ctx.req }, "auth sees the handshake");
        if (ctx.handshake.auth.fail === true) throw new Error("refused");
        return { id: "u1" };
      },
      events: {
        dump: (ctx) => {
          ctx.log.info(
            { req: ctx.req, headers: ctx.req.headers, cookies: ctx.req.cookies, handshake: ctx.handshake, data: ctx.data },
            "handler dump",
          );
          return "ok";
        },
        fail: () => {
          throw new Error("handler failed");
        },
        bad: { schema: z.object({ n: z.number() }), handler: () => "never" },
      },
    });
    // The server's own logger (createLogger, with its redaction), writing into memory.
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(
          ...chunk
            .toString()
            .split("\n")
            .filter((l) => l.trim()),
        );
        cb();
      },
    });
    const { config } = resolveConfig({ logging: { level: "trace", pretty: false } });
    const logger = await createLogger(config, { destination });
    const srv = await startServer({ "/l": logging }, { logging: { level: "trace" } }, { logger });
    try {
      const opts = {
        auth: { token: SECRETS[0], password: SECRETS[4] },
        extraHeaders: { cookie: `sid=${SECRETS[1]}; theme=dark`, authorization: `Bearer ${SECRETS[2]}` },
        query: { token: SECRETS[3] },
      };
      const s = await srv.connected("/l", opts);
      await request(s, "dump", { token: SECRETS[0], password: SECRETS[4], authorization: SECRETS[2] });
      await request(s, "fail");
      await request(s, "bad", { n: "x", token: SECRETS[0] });
      expect(await refusal(srv.connect("/l", { ...opts, auth: { ...opts.auth, fail: true } }))).toBe("UNAUTHORIZED");
      s.disconnect();
      await sleep(50);
      const text = lines.join("\n");
      expect(lines.length).toBeGreaterThan(5);
      expect(text).toContain("handler dump");
      for (const secret of SECRETS) expect(text, `${secret} leaked into the logs`).not.toContain(secret);
    } finally {
      await srv.close();
    }
  });
});

describe("production answers carry no error text or stack", () => {
  const INTERNAL = "Internal server error";
  let srv: TestServer;
  let env: string | undefined;
  const never = new Promise<never>(() => undefined);
  const failing: RealtimeStateStore = {
    ...createMemoryStateStore(),
    get: () => Promise.reject(new LolyError("UNAVAILABLE", 'state-redis: get("secret:key") failed: connect ECONNREFUSED 10.0.0.5:6379')),
    incr: () => never,
  };
  const prod = defineWssRoute({
    auth: ({ handshake }) => {
      if (handshake.auth.fail === true) throw new Error("auth db at 10.0.0.5 said no");
      return null;
    },
    events: {
      sync: () => {
        throw new Error("SELECT * FROM users -- password=hunter2");
      },
      async: async () => {
        throw new TypeError("Cannot read properties of undefined (reading 'hunter2')");
      },
      guarded: {
        guard: () => {
          throw new Error("guard hunter2");
        },
        handler: () => "never",
      },
      unencodable: async () => 1n as unknown as number,
      state: (ctx) => ctx.state.get("secret:key"),
      slowState: (ctx) => ctx.state.incr("x"),
    },
  });
  beforeAll(async () => {
    env = process.env.NODE_ENV;
    process.env.NODE_ENV = "production";
    srv = await startServer({ "/p": prod }, { allowedOrigins: [APP], scale: { commandTimeoutMs: 200 } }, { stateStore: failing });
  });
  afterAll(async () => {
    process.env.NODE_ENV = env;
    await srv?.close();
  });

  it.each(["sync", "async", "guarded", "unencodable"])("%s failure: INTERNAL with a generic message, no stack", async (event) => {
    const s = await srv.connected("/p");
    const envelope = nextError(s);
    const ack = await request(s, event);
    expect(ack).toEqual({ ok: false, error: { code: "INTERNAL", message: INTERNAL } });
    const err = await envelope;
    expect(err.message).toBe(INTERNAL);
    expect(JSON.stringify([ack, err])).not.toMatch(/hunter2|at .*\.ts|Error:|bigint/i);
    // the log has it all
    expect(srv.logs.some((l) => l.level === 50)).toBe(true);
  });

  it("store outages read generic: no Redis address or key name", async () => {
    const s = await srv.connected("/p");
    for (const event of ["state", "slowState"]) {
      const ack = await request(s, event);
      expect(ack.ok).toBe(false);
      expect(ack.error.code).toBe("UNAVAILABLE");
      expect(ack.error.message).not.toMatch(/10\.0\.0\.5|secret:key|state\.|ECONNREFUSED|ms/);
    }
  });

  it("a refused connection carries the code only", async () => {
    const s = srv.connect("/p", { auth: { fail: true } });
    const err = await new Promise<Error & { data?: unknown }>((resolve) => s.once("connect_error", resolve));
    expect(err.message).toBe("UNAUTHORIZED");
    expect(JSON.stringify(err.data)).not.toMatch(/10\.0\.0\.5|auth db/);
  });
});
