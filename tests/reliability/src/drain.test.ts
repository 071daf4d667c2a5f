/**
 * The drain under steady traffic with slow handlers (SPEC 10): clients keep sending acked
 * events whose handlers take 150 ms while `rt.close()` runs. Every event a handler ran is
 * answered; events a connection sends after its turn are refused with `UNAVAILABLE` (not run)
 * and answered at once; the close takes about `drainMs` plus one handler, not `graceMs`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { defineWssRoute } from "@loly-rt/core";
import { startServer, type TestServer } from "../../../packages/server/src/test-helpers.js";

const executed = new Set<string>();
const route = defineWssRoute({
  events: {
    slow: async (ctx) => {
      await new Promise((r) => setTimeout(r, 150));
      executed.add(String(ctx.data));
      return ctx.data;
    },
  },
});

let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
  executed.clear();
});

describe("drain with slow handlers under steady traffic", () => {
  it("every executed event is answered; later ones are refused UNAVAILABLE; close is not held for graceMs", {
    timeout: 20_000,
  }, async () => {
    srv = await startServer({ "/d": route }, { shutdown: { graceMs: 5000, drainMs: 600 }, limits: { eventsPerSecond: 1000, burst: 1000 } });
    const sockets = await Promise.all(Array.from({ length: 8 }, () => srv!.connected("/d")));
    const answers = new Map<string, { ok: boolean; error?: { code: string } } | "lost">();
    let running = true;
    let n = 0;
    const loops = sockets.map(async (s, i) => {
      while (running && s.connected) {
        const id = `${i}-${n++}`;
        s.timeout(3000)
          .emitWithAck("slow", id)
          .then(
            (a) => answers.set(id, a),
            () => answers.set(id, "lost"),
          );
        await new Promise((r) => setTimeout(r, 40));
      }
    });
    await new Promise((r) => setTimeout(r, 400));
    const t0 = Date.now();
    await srv.rt.close();
    const closeMs = Date.now() - t0;
    running = false;
    await Promise.all(loops);
    await new Promise((r) => setTimeout(r, 3200));
    const unanswered = [...executed].filter((id) => {
      const a = answers.get(id);
      return a === undefined || a === "lost" || !a.ok;
    });
    const refused = [...answers.values()].filter((a) => a !== "lost" && !a.ok);
    console.log(
      `[figure] drain with 150 ms handlers, 8 sockets: close ${closeMs} ms; ${executed.size} executed, ${unanswered.length} unanswered, ${refused.length} refused UNAVAILABLE`,
    );
    expect(executed.size).toBeGreaterThan(20);
    expect(unanswered).toEqual([]);
    expect(refused.every((a) => a !== "lost" && a.error?.code === "UNAVAILABLE")).toBe(true);
    expect(closeMs).toBeLessThan(5000);
    srv = undefined;
  });
});
