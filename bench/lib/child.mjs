/**
 * The child side of the runner's IPC: what every server under test answers, and small
 * helpers for load generators.
 */
import { setTimeout as sleep } from "node:timers/promises";

/** Sends a message to the runner. */
export function report(msg) {
  if (process.send) process.send(msg);
}

/** Options the runner passes as JSON in `BENCH_OPTS`. */
export function options() {
  return JSON.parse(process.env.BENCH_OPTS ?? "{}");
}

/** Full GCs until the heap stops shrinking (needs --expose-gc), then the memory figures. */
export async function memoryAfterGc() {
  if (typeof globalThis.gc !== "function") throw new Error("run with --expose-gc");
  let last = Infinity;
  for (let i = 0; i < 6; i++) {
    globalThis.gc();
    await sleep(50);
    const used = process.memoryUsage().heapUsed;
    if (last - used < 64 * 1024) break;
    last = used;
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

/**
 * Wires a server under test to the runner: answers `cpu` (process.cpuUsage now), `mem`
 * (memory after GC) and `close` (runs `close`, then exits).
 */
export function serveRunner(close) {
  process.on("message", async (msg) => {
    if (msg.type === "cpu") {
      const u = process.cpuUsage();
      report({ type: "cpu", user: u.user, system: u.system, at: performance.now() });
    } else if (msg.type === "mem") {
      report({ type: "mem", ...(await memoryAfterGc()) });
    } else if (msg.type === "close") {
      try {
        await close();
      } finally {
        process.exit(0);
      }
    }
  });
  // The runner went away (crash, Ctrl-C): do not linger.
  process.on("disconnect", () => process.exit(0));
}

/** Resolves the next runner command of `type`. */
export function command(type) {
  return new Promise((resolve) => {
    const on = (msg) => {
      if (msg.type !== type) return;
      process.off("message", on);
      resolve(msg);
    };
    process.on("message", on);
  });
}
