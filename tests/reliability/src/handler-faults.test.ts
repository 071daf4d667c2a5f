/**
 * Handler faults: a synchronous throw, an async rejection, a promise that never settles,
 * thrown non-errors and answers that cannot be encoded. Every case: the client gets its
 * error envelope (and ack), the process and the connection live on, and a never-settling
 * handler is let go after `handlerTimeoutMs` without pinning memory.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LolyError, defineWssRoute, type LolyErrorEvent } from "@loly-rt/core";
import { nextError, request, startServer, type TestServer } from "../../../packages/server/src/test-helpers.js";
import { heapAfterGc } from "./support/gc.js";

const HANDLER_TIMEOUT = 300;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const unhandled: unknown[] = [];
const onUnhandled = (err: unknown): void => void unhandled.push(err);

let settledLate = 0;
const route = defineWssRoute({
  events: {
    ping: () => "pong",
    syncThrow: () => {
      throw new Error("boom (sync)");
    },
    asyncReject: async () => {
      await sleep(1);
      throw new Error("boom (async)");
    },
    rejectLater: () => Promise.reject(new Error("boom (rejected promise)")),
    never: () => new Promise(() => undefined),
    late: async () => {
      await sleep(HANDLER_TIMEOUT * 2);
      settledLate++;
      return "too late";
    },
    throwString: () => {
      throw "a string"; // eslint-disable-line no-throw-literal
    },
    throwNull: () => {
      throw null; // eslint-disable-line no-throw-literal
    },
    throwUndefinedAsync: async () => {
      throw undefined; // eslint-disable-line no-throw-literal
    },
    throwCyclic: () => {
      const o: Record<string, unknown> = {};
      o.self = o;
      throw o;
    },
    forbidden: async () => {
      throw new LolyError("FORBIDDEN", "not yours");
    },
    badDetails: async () => {
      throw new LolyError("BAD_PAYLOAD", "cannot encode these details", { n: 10n });
    },
    bigint: async () => 10n as unknown as number,
    cyclic: () => {
      const o: Record<string, unknown> = {};
      o.self = o;
      return o;
    },
    guarded: {
      guard: () => {
        throw new Error("guard blew up");
      },
      handler: () => "unreachable",
    },
    hold: async () => {
      // Keeps 64 KB of JS heap reachable only from this async frame while it waits forever.
      const ballast = new Array<number>(8192).fill(Math.random());
      await new Promise(() => undefined);
      return ballast.length;
    },
  },
  onConnect: (ctx) => {
    if (ctx.handshake.auth.failConnect === true) throw new Error("onConnect blew up");
  },
});

describe("handler faults", () => {
  let srv: TestServer;
  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandled);
    srv = await startServer({ "/f": route }, { handlerTimeoutMs: HANDLER_TIMEOUT, limits: { eventsPerSecond: 100_000, burst: 100_000 } });
  });
  afterEach(() => {
    expect(unhandled).toEqual([]);
  });
  afterAll(async () => {
    await srv?.close();
    process.off("unhandledRejection", onUnhandled);
  });

  it.each([
    ["syncThrow", "boom (sync)"],
    ["asyncReject", "boom (async)"],
    ["rejectLater", "boom (rejected promise)"],
  ])("%s: INTERNAL envelope and ack, the socket lives on", async (event, message) => {
    const s = await srv.connected("/f");
    const envelope = nextError(s);
    const ack = await request(s, event);
    expect(ack).toEqual({ ok: false, error: { code: "INTERNAL", message } });
    const err = await envelope;
    expect(err).toMatchObject({ code: "INTERNAL", event });
    expect(typeof err.requestId).toBe("string");
    expect(await request(s, "ping")).toEqual({ ok: true, data: "pong" });
    expect(srv.logs.some((l) => l.level === 50 && String(l.msg).includes(message))).toBe(true);
  });

  it("a never-settling handler answers INTERNAL after handlerTimeoutMs", async () => {
    const s = await srv.connected("/f");
    const envelope = nextError(s);
    const started = Date.now();
    const ack = await request(s, "never");
    const waited = Date.now() - started;
    expect(ack.ok).toBe(false);
    expect(ack.error.code).toBe("INTERNAL");
    expect(ack.error.message).toMatch(/did not settle within 300 ms/);
    expect((await envelope).code).toBe("INTERNAL");
    expect(waited).toBeGreaterThanOrEqual(HANDLER_TIMEOUT - 5);
    console.log(`[figure] never-settling handler answered after ${waited} ms (handlerTimeoutMs ${HANDLER_TIMEOUT})`);
    expect(await request(s, "ping")).toEqual({ ok: true, data: "pong" });
  });

  it("a handler that settles after the timeout answers once (INTERNAL), its late result is dropped", async () => {
    const s = await srv.connected("/f");
    const acks: unknown[] = [];
    const errors: LolyErrorEvent[] = [];
    s.on("__loly:error", (e: LolyErrorEvent) => errors.push(e));
    s.emit("late", undefined, (r: unknown) => acks.push(r));
    await sleep(HANDLER_TIMEOUT * 3);
    expect(settledLate).toBeGreaterThanOrEqual(1);
    expect(acks).toHaveLength(1);
    expect(acks[0]).toMatchObject({ ok: false, error: { code: "INTERNAL" } });
    expect(errors.filter((e) => e.event === "late")).toHaveLength(1);
  });

  it.each(["throwString", "throwNull", "throwUndefinedAsync", "throwCyclic"])(
    "%s (a thrown non-Error): INTERNAL, no crash",
    async (event) => {
      const s = await srv.connected("/f");
      const ack = await request(s, event);
      expect(ack.ok).toBe(false);
      expect(ack.error.code).toBe("INTERNAL");
      expect(await request(s, "ping")).toEqual({ ok: true, data: "pong" });
    },
  );

  it("a LolyError keeps its code; one with details that cannot be encoded still answers", async () => {
    const s = await srv.connected("/f");
    expect(await request(s, "forbidden")).toEqual({ ok: false, error: { code: "FORBIDDEN", message: "not yours" } });
    const envelope = nextError(s);
    const ack = await request(s, "badDetails");
    expect(ack.ok).toBe(false);
    expect((await envelope).code).toBe("BAD_PAYLOAD");
    expect(await request(s, "ping")).toEqual({ ok: true, data: "pong" });
  });

  it.each(["bigint", "cyclic"])("a %s result (not encodable) answers INTERNAL instead of killing the process", async (event) => {
    const s = await srv.connected("/f");
    const ack = await request(s, event);
    expect(ack).toMatchObject({ ok: false, error: { code: "INTERNAL" } });
    expect(await request(s, "ping")).toEqual({ ok: true, data: "pong" });
  });

  it("a throwing guard answers INTERNAL; a throwing onConnect is logged and the socket stays", async () => {
    const s = await srv.connected("/f");
    expect((await request(s, "guarded")).error.code).toBe("INTERNAL");
    const c = await srv.connected("/f", { auth: { failConnect: true } });
    await sleep(50);
    expect(c.connected).toBe(true);
    expect(await request(c, "ping")).toEqual({ ok: true, data: "pong" });
    expect(srv.logs.some((l) => String(l.msg).includes("onConnect failed: onConnect blew up"))).toBe(true);
  });

  it("never-settling handlers do not pin memory: the heap after GC returns to its baseline", async () => {
    const s = await srv.connected("/f");
    // warm up the path (JIT, lazily built parts), then take the baseline
    for (let i = 0; i < 50; i++) s.emit("hold", undefined, () => undefined);
    await sleep(HANDLER_TIMEOUT * 2);
    const baseline = await heapAfterGc();
    const count = 1500;
    let answered = 0;
    for (let i = 0; i < count; i++) s.emit("hold", undefined, () => void answered++);
    // events run in order: once ping is answered, every hold handler is running
    expect(await request(s, "ping")).toEqual({ ok: true, data: "pong" });
    const held = await heapAfterGc();
    expect(answered).toBeLessThan(count);
    for (let i = 0; i < 100 && answered < count; i++) await sleep(50);
    expect(answered).toBe(count);
    const after = await heapAfterGc();
    const pinnedIfLeaked = count * 64 * 1024;
    console.log(
      `[figure] ${count} never-settling handlers (64 KB each): heap after GC while they wait ${(held / 1e6).toFixed(1)} MB, ` +
        `baseline after GC ${(baseline / 1e6).toFixed(1)} MB, after GC ${(after / 1e6).toFixed(1)} MB (a leak would add ${(pinnedIfLeaked / 1e6).toFixed(0)} MB)`,
    );
    // generous: a leak pins all of it, GC noise under a busy CI is a few MB
    expect(held - baseline).toBeLessThan(pinnedIfLeaked / 3);
    expect(after - baseline).toBeLessThan(pinnedIfLeaked / 3);
    expect(await request(s, "ping")).toEqual({ ok: true, data: "pong" });
  });
});
