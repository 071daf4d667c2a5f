/**
 * The child side of the runner's IPC: what every server under test answers, and small
 * helpers for load generators.
 */
import { Session } from "node:inspector/promises";
import { writeFileSync } from "node:fs";
import { writeHeapSnapshot } from "node:v8";
import { setTimeout as sleep } from "node:timers/promises";

/** Sends a message to the runner. */
export function report(msg) {
  if (process.send) process.send(msg);
}

/** Options the runner passes as JSON in `BENCH_OPTS`. A child whose runner is gone exits. */
export function options() {
  process.once("disconnect", () => process.exit(0));
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

let session = null;

/**
 * Wires a server under test to the runner: answers `cpu` (process.cpuUsage now), `mem`
 * (memory after GC), `profile-start` / `profile-stop` (V8's CPU profiler, the one behind
 * `node --cpu-prof`, over the measured window only; the stop writes `msg.file`),
 * `heap-snapshot` (after GC, to `msg.file`) and `close` (runs `close`, then exits).
 */
export function serveRunner(close) {
  process.on("message", async (msg) => {
    if (msg.type === "profile-start") {
      session = new Session();
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.setSamplingInterval", { interval: msg.intervalUs ?? 250 });
      await session.post("Profiler.start");
      report({ type: "profile-started" });
    } else if (msg.type === "profile-stop") {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      session = null;
      writeFileSync(msg.file, JSON.stringify(profile));
      report({ type: "profile-stopped" });
    } else if (msg.type === "heap-snapshot") {
      await memoryAfterGc();
      writeHeapSnapshot(msg.file);
      report({ type: "heap-snapshot-written" });
    } else if (msg.type === "cpu") {
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
