/**
 * One instance of scenario 7 (rolling restart): a Loly Realtime server in cluster mode (Redis
 * adapter, Redis state store, so Redis presence and connection counts too) with the defaults
 * a deployment would keep (`shutdown`, limits, both transports), except logging (warn, JSON)
 * and the per-IP limit (every client comes through the balancer from 127.0.0.1).
 *
 * Its route signs clients in by `handshake.auth.token` and has one event, `work`: the handler
 * records the request in the shared store (`exec:<user>` holds the request's sequence number),
 * after `workMs` of pretend work, then answers the sequence number. So "executed" is what Redis
 * holds, whatever happens to the process afterwards.
 *
 * On SIGTERM it does what docs/deploying.md tells an application to do: `await rt.close()`
 * (the drain), then exit; before exiting it reports to the runner `{ type: "closed", sigtermAt,
 * closedAt }` (wall clock, ms), the event-loop delay during `close()` (`lagMs`: p50, p99, max)
 * and `dropped`: event packets that reached a connection after the drain had started closing
 * it (Engine.IO drops them: never run, never answered; the client's ack fails when the
 * connection closes).
 *
 * BENCH_OPTS: { redisUrl, prefix, workMs?, graceMs?, drainMs? }
 */
import { defineWssRoute, type RealtimeConfigInput } from "@loly-rt/core";
import { createRealtimeServer } from "@loly-rt/server";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { z } from "zod";
// @ts-expect-error plain JS helper of the runner (no type declarations)
import { options, report, serveRunner } from "../lib/child.mjs";

interface Opts {
  redisUrl: string;
  prefix: string;
  workMs?: number;
  graceMs?: number;
  drainMs?: number;
}

const opts = options() as Opts;
const workMs = opts.workMs ?? 0;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const config: RealtimeConfigInput = {
  path: "/wss",
  logging: { level: "warn", pretty: false },
  limits: { connectionsPerIp: 100_000 },
  scale: {
    mode: "cluster",
    adapter: { type: "redis", url: opts.redisUrl },
    stateStore: { type: "redis", url: opts.redisUrl, prefix: opts.prefix },
  },
};
if (opts.graceMs !== undefined || opts.drainMs !== undefined) {
  config.shutdown = {};
  if (opts.graceMs !== undefined) config.shutdown.graceMs = opts.graceMs;
  if (opts.drainMs !== undefined) config.shutdown.drainMs = opts.drainMs;
}

const route = defineWssRoute({
  auth: ({ handshake }) => {
    const token = handshake.auth.token;
    return typeof token === "string" && token.length > 0 ? { id: token } : null;
  },
  requireAuth: true,
  events: {
    work: {
      schema: z.number().int().nonnegative(),
      handler: async (ctx) => {
        if (workMs > 0) await sleep(workMs);
        await ctx.state.setAdd(`exec:${(ctx.user as { id: string }).id}`, String(ctx.data));
        return ctx.data;
      },
    },
  },
});

const rt = await createRealtimeServer({ config, routes: { "/bench": route } });
serveRunner(() => rt.close());

let dropped = 0;
rt.io.engine.on("connection", (conn) => {
  // Seen before Engine.IO's socket looks at its state: a socket no longer "open" drops it.
  conn.transport.on("packet", (packet: { type: string }) => {
    if (packet.type === "message" && conn.readyState !== "open") dropped++;
  });
});

process.once("SIGTERM", () => {
  const sigtermAt = Date.now();
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  void rt.close().then(() => {
    lag.disable();
    const lagMs = { p50: lag.percentile(50) / 1e6, p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 };
    // The runner reads this before the exit; a send in flight is flushed first.
    process.send?.({ type: "closed", sigtermAt, closedAt: Date.now(), lagMs, dropped }, () => process.exit(0));
  });
});

const port = await rt.listen(0, "127.0.0.1");
report({ type: "ready", port, pid: process.pid, shutdown: rt.config.shutdown });
