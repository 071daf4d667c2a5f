import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineWssRoute, type AnyWssRoute } from "@loly-rt/core";
import { createMemoryStateStore } from "@loly-rt/state-memory";
import { createMemoryPresence } from "@loly-rt/presence";
import { createMemoryRateLimitBackend } from "@loly-rt/ratelimit";
import { resolveConfig } from "../config/index.js";
import { createServerMetrics } from "../metrics.js";
import { compileRoute } from "../routes/compile.js";
import type { SharedServices } from "../services.js";
import { SocketRecord } from "../socket/record.js";
import { memoryLogger } from "../test-helpers.js";
import { handlePacket } from "./handle.js";

/** The pipeline on a stand-in socket that records every emit with its target. */
function harness(route: AnyWssRoute, production: boolean) {
  const { config } = resolveConfig({}, {});
  const { logger, logs } = memoryLogger();
  const shared: SharedServices = {
    config,
    production,
    logger,
    state: createMemoryStateStore(),
    presence: createMemoryPresence(),
    metrics: createServerMetrics(),
    sharedLimiter: createMemoryRateLimitBackend(),
    bounded: (p) => p,
  };
  const sent: Array<{ to: string; args: unknown[] }> = [];
  const sink = (to: string) => ({ emit: (...args: unknown[]) => sent.push({ to, args }) });
  const socket = {
    id: "s1",
    connected: true,
    handshake: { headers: {} },
    nsp: { name: "/t", emit: (...args: unknown[]) => sent.push({ to: "namespace", args }), to: (room: string) => sink(`room ${room}`) },
    broadcast: sink("others"),
    to: (room: string) => sink(`room ${room} but me`),
    emit: (...args: unknown[]) => sent.push({ to: "me", args }),
  };
  const compiled = compileRoute("/t", route, shared);
  const rec = new SocketRecord(socket as never, compiled, shared, null, null, "10.0.0.1", {});
  const send = (event: string, payload?: unknown): Promise<unknown> =>
    new Promise((resolve) => handlePacket(rec, [event, payload, resolve]));
  const errors = (): Array<Record<string, unknown>> => logs.filter((l) => l.level === 50);
  return { send, sent, errors };
}

const said = z.object({ from: z.string(), text: z.string().max(5) });

/** A route whose `go` event emits `payload` under `name` through `via`. */
function emitting(emits: Record<string, unknown> | undefined, name: string, payload: unknown, via = "emit"): AnyWssRoute {
  return defineWssRoute({
    ...(emits ? { emits: emits as never } : {}),
    events: {
      go: (ctx) => {
        const a = ctx.actions as unknown as Record<string, (event: string, payload: unknown) => void>;
        const room = ctx.actions.toRoom("lobby") as unknown as Record<string, (event: string, payload: unknown) => void>;
        const user = ctx.actions.toUser("42") as unknown as Record<string, (event: string, payload: unknown) => void>;
        if (via === "toRoom.emit") room.emit?.(name, payload);
        else if (via === "toRoom.broadcast") room.broadcast?.(name, payload);
        else if (via === "toUser.emit") user.emit?.(name, payload);
        else a[via]?.(name, payload);
        return "done";
      },
    },
  });
}

describe("emits: payloads checked in development", () => {
  it("sends a valid payload without a word", async () => {
    const h = harness(emitting({ said }, "said", { from: "ada", text: "hi" }), false);
    expect(await h.send("go")).toEqual({ ok: true, data: "done" });
    expect(h.sent).toEqual([{ to: "namespace", args: ["said", { from: "ada", text: "hi" }] }]);
    expect(h.errors()).toEqual([]);
  });

  it("logs a mismatch as an error naming the event and the issue, and still sends the payload as given", async () => {
    const h = harness(emitting({ said }, "said", { from: "ada", text: "far too long" }), false);
    await h.send("go");
    expect(h.sent).toEqual([{ to: "namespace", args: ["said", { from: "ada", text: "far too long" }] }]);
    const [line, ...more] = h.errors();
    expect(more).toEqual([]);
    expect(line).toMatchObject({ emit: "said", via: "emit", namespace: "/t", event: "go", issues: [{ path: "text" }] });
    expect(line?.msg).toMatch(/^emit "said": the payload does not match emits\.said: text: .*5/);
    expect(line?.requestId).toEqual(expect.any(String));
  });

  it.each([
    ["reply", "me"],
    ["broadcast", "others"],
    ["toRoom.emit", "room lobby"],
    ["toRoom.broadcast", "room lobby but me"],
    ["toUser.emit", "room user:42"],
  ])("checks %s too", async (via, to) => {
    const h = harness(emitting({ said }, "said", { from: 1 }, via), false);
    await h.send("go");
    expect(h.sent).toEqual([{ to, args: ["said", { from: 1 }] }]);
    const [line] = h.errors();
    const label =
      { "toRoom.emit": 'toRoom("lobby").emit', "toRoom.broadcast": 'toRoom("lobby").broadcast', "toUser.emit": 'toUser("42").emit' }[via] ??
      via;
    expect(line).toMatchObject({ emit: "said", via: label });
    expect(line?.msg).toContain("from:");
    expect(line?.msg).toContain("text:");
  });

  it("logs an event the route does not declare", async () => {
    const h = harness(emitting({ said }, "sad", { from: "a", text: "b" }), false);
    await h.send("go");
    expect(h.sent).toHaveLength(1);
    expect(h.errors()[0]).toMatchObject({ emit: "sad", msg: `emit "sad": not declared in the route's emits (declared: said)` });
  });

  it("checks with valibot and with asynchronous schemas (logged once settled)", async () => {
    const h = harness(emitting({ typing: v.string() }, "typing", 42), false);
    await h.send("go");
    expect(h.errors()[0]).toMatchObject({ emit: "typing", issues: [{ path: "" }] });
    expect(h.errors()[0]?.msg).toMatch(/^emit "typing": the payload does not match emits\.typing: \(payload\): /);

    const later = z.string().refine(async (s) => s.length > 3, "too short");
    const a = harness(emitting({ word: later }, "word", "ab"), false);
    await a.send("go");
    await new Promise((r) => setTimeout(r, 10));
    expect(a.errors()[0]).toMatchObject({ emit: "word", issues: [{ path: "", message: "too short" }] });
  });

  it("never applies a schema's transform to what it sends", async () => {
    const h = harness(emitting({ size: z.string().transform((s) => s.length) }, "size", "abc"), false);
    await h.send("go");
    expect(h.sent).toEqual([{ to: "namespace", args: ["size", "abc"] }]);
    expect(h.errors()).toEqual([]);
  });

  it("checks nothing on a route without emits", async () => {
    const h = harness(emitting(undefined, "anything", { x: 1n }), false);
    await h.send("go");
    expect(h.sent).toHaveLength(1);
    expect(h.errors()).toEqual([]);
  });
});

describe("emits in production", () => {
  it("never runs a schema and logs nothing: the payload goes out as in development", async () => {
    let calls = 0;
    const counting = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: (value: unknown) => {
          calls++;
          return typeof value === "string" ? { value } : { issues: [{ message: "not a string" }] };
        },
      },
    };
    for (const via of ["emit", "reply", "broadcast", "toRoom.emit", "toRoom.broadcast", "toUser.emit"]) {
      const h = harness(emitting({ word: counting }, "word", 42, via), true);
      await h.send("go");
      expect(h.sent).toHaveLength(1);
      expect(h.errors()).toEqual([]);
    }
    const undeclared = harness(emitting({ word: counting }, "other", 1), true);
    await undeclared.send("go");
    expect(undeclared.errors()).toEqual([]);
    expect(calls).toBe(0);

    // the same schema in development does run
    const dev = harness(emitting({ word: counting }, "word", 42), false);
    await dev.send("go");
    expect(calls).toBe(1);
  });
});
