import { describe, expect, it } from "vitest";
import { defineWssRoute } from "@loly-rt/core";
import { handshakeRefusal, refusal, request, sleep, startServer } from "./test-helpers.js";
import { chat } from "./test-routes.js";

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
    // A drain closes the transport (the client reconnects elsewhere); onDisconnect says why.
    expect(left).toEqual(["u1:server shutting down"]);
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
