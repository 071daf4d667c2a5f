import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineWssRoute, type RateLimitBackend } from "@loly-rt/core";
import { createMemoryStateStore } from "@loly-rt/state-memory";
import { createMemoryPresence } from "@loly-rt/presence";
import { createMemoryRateLimitBackend } from "@loly-rt/ratelimit";
import { resolveConfig } from "../config/index.js";
import { createServerMetrics } from "../metrics.js";
import { compileRoute } from "../routes/compile.js";
import { globalBucketFor, handlePacket } from "./handle.js";
import type { SharedServices } from "../services.js";
import { SocketRecord } from "../socket/record.js";
import { memoryLogger } from "../test-helpers.js";

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
  const rec = new SocketRecord(socket as never, compiled, shared, null, null, "10.0.0.1", {}, globalBucketFor(compiled));
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
});
