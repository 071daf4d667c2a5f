import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineWssRoute, type RateLimitBackend } from "@loly-rt/core";
import { createMemoryStateStore } from "@loly-rt/state-memory";
import { createMemoryPresence } from "@loly-rt/presence";
import { createMemoryRateLimitBackend } from "@loly-rt/ratelimit";
import { resolveConfig } from "../config/index.js";
import { createServerMetrics } from "../metrics.js";
import { compileRoute } from "../routes/compile.js";
import { attachPipeline, handlePacket } from "./handle.js";
import type { SharedServices } from "../services.js";
import { SocketRecord } from "../socket/record.js";
import { memoryLogger, nextError, startServer } from "../test-helpers.js";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { io as ioClient } from "socket.io-client";

/** The pipeline alone, on a stand-in socket: what it emits and acks is recorded. */
function harness(
  route: ReturnType<typeof defineWssRoute>,
  limiter: RateLimitBackend = createMemoryRateLimitBackend(),
  scope: "socket" | "ip" = "socket",
) {
  const { config } = resolveConfig({ limits: { eventsPerSecond: 1000, burst: 1000, scope } }, {});
  const { logger, logs } = memoryLogger();
  const shared: SharedServices = {
    config,
    production: false,
    logger,
    state: createMemoryStateStore(),
    presence: createMemoryPresence(),
    metrics: createServerMetrics(),
    sharedLimiter: limiter,
    bounded: (p) => p,
  };
  const emitted: unknown[][] = [];
  const socket = { id: "s1", nsp: { name: "/t" }, connected: true, handshake: { headers: {} }, emit: (...a: unknown[]) => emitted.push(a) };
  const compiled = compileRoute("/t", route, shared);
  const rec = new SocketRecord(socket as never, compiled, shared, null, null, "10.0.0.1", {});
  const packet = (args: unknown[]): void => handlePacket(rec, args);
  const send = (event: string, payload?: unknown): Promise<unknown> =>
    new Promise((resolve) => packet(payload === undefined ? [event, resolve] : [event, payload, resolve]));
  return { send, packet, emitted, logs };
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
process.on("unhandledRejection", onUnhandled);
afterEach(() => {
  expect(unhandled).toEqual([]);
});

describe("the event pipeline on its own", () => {
  it("answers synchronously when nothing is async", () => {
    const h = harness(defineWssRoute({ events: { ping: () => "pong" } }));
    const answers: unknown[] = [];
    h.packet(["ping", (r: unknown) => answers.push(r)]);
    // no await: the ack was written before handlePacket returned
    expect(answers).toEqual([{ ok: true, data: "pong" }]);
    expect(h.emitted).toEqual([]);
  });

  it("answers INTERNAL (never an unhandled rejection) when an async step breaks", async () => {
    // A shared limiter that answers nonsense: the continuation throws reading it.
    const broken: RateLimitBackend = { local: false, consume: () => Promise.resolve(null as never), reset: () => undefined };
    const h = harness(defineWssRoute({ events: { ping: () => "pong" } }), broken, "ip");
    const answer = (await h.send("ping")) as { ok: boolean; error: { code: string } };
    expect(answer.ok).toBe(false);
    expect(answer.error.code).toBe("INTERNAL");
    await new Promise((r) => setTimeout(r, 10));
    expect(h.logs.some((l) => l.msg === "event pipeline failed")).toBe(true);
  });

  it("answers INTERNAL with the event and request id when a result cannot be encoded", async () => {
    const h = harness(defineWssRoute({ events: { big: async () => 1n } }));
    // the stand-in ack throws like socket.io's encoder does on a BigInt
    const answers: unknown[] = [];
    const ack = (r: unknown): void => {
      JSON.stringify(r);
      answers.push(r);
    };
    h.packet(["big", ack]);
    await new Promise((r) => setTimeout(r, 20));
    expect(answers).toEqual([
      { ok: false, error: { code: "INTERNAL", message: expect.stringContaining('the result of "big" could not be sent') } },
    ]);
    expect(h.emitted[0]?.[0]).toBe("__loly:error");
    expect(h.emitted[0]?.[1]).toMatchObject({ code: "INTERNAL", event: "big" });
  });

  it("refuses a payload its schema rejects before the guard and handler run", async () => {
    let ran = 0;
    const h = harness(
      defineWssRoute({
        events: {
          e: {
            schema: z.object({ n: z.number() }),
            guard: () => {
              ran++;
              return true;
            },
            handler: () => {
              ran++;
            },
          },
        },
      }),
    );
    const answer = (await h.send("e", { n: "x" })) as { error: { code: string } };
    expect(answer.error.code).toBe("BAD_PAYLOAD");
    expect(ran).toBe(0);
  });

  it("refuses an event sent with more than one payload argument with BAD_PAYLOAD (never drops the extra ones)", () => {
    let ran = 0;
    const h = harness(
      defineWssRoute({
        events: {
          e: () => {
            ran++;
            return "ran";
          },
        },
      }),
    );
    const answers: unknown[] = [];
    const ack = (r: unknown): number => answers.push(r);
    const refused = {
      ok: false,
      error: {
        code: "BAD_PAYLOAD",
        message: "events take one payload",
        details: { issues: [{ path: "", message: expect.stringContaining("got 2 payload arguments") }] },
      },
    };
    h.packet(["e", { a: 1 }, { b: 2 }, ack]);
    expect(answers).toEqual([refused]);
    expect(h.emitted).toEqual([["__loly:error", { ...refused.error, event: "e", requestId: expect.any(String) }]]);
    // Without an ack: __loly:error alone.
    h.packet(["e", 1, 2, 3]);
    expect(h.emitted[1]?.[1]).toMatchObject({
      code: "BAD_PAYLOAD",
      message: "events take one payload",
      event: "e",
      details: { issues: [{ path: "", message: expect.stringContaining("got 3 payload arguments") }] },
    });
    expect(ran).toBe(0);
    // Zero or one payload argument, with or without an ack, still runs.
    h.packet(["e"]);
    h.packet(["e", 1]);
    h.packet(["e", ack]);
    h.packet(["e", 1, ack]);
    expect(ran).toBe(4);
    expect(answers.slice(1)).toEqual([
      { ok: true, data: "ran" },
      { ok: true, data: "ran" },
    ]);
    expect(h.emitted).toHaveLength(2);
  });

  it("refuses extra payload arguments after a shared (async) global bucket too", async () => {
    const h = harness(defineWssRoute({ events: { e: () => "ran" } }), createMemoryRateLimitBackend(), "ip");
    const answer = await new Promise((resolve) => h.packet(["e", "a", "b", resolve]));
    expect(answer).toMatchObject({ ok: false, error: { code: "BAD_PAYLOAD", message: "events take one payload" } });
  });

  it("a stock socket.io client: emit(ev, a, b, ack) is answered BAD_PAYLOAD, emit(ev, a, b) gets __loly:error", async () => {
    let ran = 0;
    const t = await startServer({
      "/t": defineWssRoute({
        events: {
          e: (ctx) => {
            ran++;
            return ctx.data;
          },
        },
      }),
    });
    try {
      const s = await t.connected("/t");
      const answer = await s.timeout(5000).emitWithAck("e", { a: 1 }, { b: 2 });
      expect(answer).toMatchObject({ ok: false, error: { code: "BAD_PAYLOAD", message: "events take one payload" } });
      const err = nextError(s);
      s.emit("e", 1, 2);
      expect(await err).toMatchObject({ code: "BAD_PAYLOAD", message: "events take one payload", event: "e" });
      expect(ran).toBe(0);
      expect(await s.timeout(5000).emitWithAck("e", { a: 1 })).toEqual({ ok: true, data: { a: 1 } });
    } finally {
      await t.close();
    }
  });

  for (const viaDispatch of [true, false]) {
    it(`on a real socket ${viaDispatch ? "as its dispatch step" : "as a socket.use() middleware (a Socket.IO without dispatch)"}: onAny listeners see events first, socket.on() listeners never`, async () => {
      const { config } = resolveConfig({}, {});
      const shared: SharedServices = {
        config,
        production: false,
        logger: memoryLogger().logger,
        state: createMemoryStateStore(),
        presence: createMemoryPresence(),
        metrics: createServerMetrics(),
        sharedLimiter: createMemoryRateLimitBackend(),
        bounded: (p) => p,
      };
      const compiled = compileRoute(
        "/",
        defineWssRoute({
          events: {
            echo: (ctx) => ctx.data,
            boom: () => {
              throw new Error("x");
            },
          },
        }),
        shared,
      );
      const http = createServer();
      const io = new Server(http);
      const seen: string[] = [];
      io.on("connection", (socket) => {
        socket.onAny((event: string) => seen.push(`any:${event}`));
        socket.on("echo", () => seen.push("listener:echo"));
        attachPipeline(socket, new SocketRecord(socket, compiled, shared, null, null, "127.0.0.1", {}), viaDispatch);
      });
      await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
      const client = ioClient(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, { transports: ["websocket"] });
      try {
        expect(await client.timeout(5000).emitWithAck("echo", { n: 1 })).toEqual({ ok: true, data: { n: 1 } });
        expect(await client.timeout(5000).emitWithAck("boom", {})).toMatchObject({ ok: false, error: { code: "INTERNAL" } });
        expect(await client.timeout(5000).emitWithAck("echo", { n: 2 })).toEqual({ ok: true, data: { n: 2 } });
        expect(seen).toEqual(["any:echo", "any:boom", "any:echo"]);
      } finally {
        client.close();
        await io.close();
      }
    });
  }
});
