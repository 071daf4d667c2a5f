/**
 * The subject: a Loly Realtime server doing what bench/servers/plain.mjs does for the same
 * scenario, through `createRealtimeServer` with its defaults (metrics on, both transports)
 * except logging (warn, no pretty printing) and limits raised so nothing is ever refused.
 *
 * BENCH_OPTS: { mode: "echo" | "fanout" | "idle", redisUrl?, prefix?, cluster?, recovery?, eventScope? }
 * (`cluster` runs the echo route in cluster mode; `eventScope` is the scope of its event limit).
 */
import { defineWssRoute, type AnyWssRoute, type RealtimeConfigInput } from "@loly-rt/core";
import { createRealtimeServer } from "@loly-rt/server";
import { z } from "zod";
// @ts-expect-error plain JS helper of the runner (no type declarations)
import { options, report, serveRunner } from "../lib/child.mjs";

interface Opts {
  mode: "echo" | "fanout" | "idle";
  redisUrl?: string;
  prefix?: string;
  cluster?: boolean;
  /** `false`: connection-state recovery off (the fan-out scenario runs both). */
  recovery?: boolean;
  eventScope?: "socket" | "ip" | "user";
}

const opts = options() as Opts;
/** High enough that no bucket ever refuses during a run: the limiter still decides every event. */
const NEVER = 1_000_000_000;

const config: RealtimeConfigInput = {
  path: "/wss",
  logging: { level: "warn", pretty: false },
  limits: { connectionsPerIp: 100_000, eventsPerSecond: NEVER, burst: NEVER },
};

const cluster = (): void => {
  config.scale = {
    mode: "cluster",
    adapter: { type: "redis", url: opts.redisUrl },
    stateStore: { type: "redis", url: opts.redisUrl, prefix: opts.prefix ?? "loly-bench:" },
  };
  if (opts.recovery === false) config.recovery = false;
};

let route: AnyWssRoute;
if (opts.mode === "echo") {
  if (opts.cluster) cluster();
  // The full pipeline: schema, guard, global and per-event limit, handler, ack envelope.
  route = defineWssRoute({
    events: {
      echo: {
        schema: z.object({ text: z.string().max(500), n: z.number() }),
        guard: ({ data }) => data.n >= 0,
        rateLimit: { eventsPerSecond: NEVER, burst: NEVER, scope: opts.eventScope ?? "socket" },
        handler: (ctx) => ctx.data,
      },
    },
  });
} else if (opts.mode === "fanout") {
  cluster();
  route = defineWssRoute({
    onConnect: (ctx) => ctx.actions.join("bench"),
    events: {
      send: (ctx) => {
        ctx.actions.toRoom("bench").broadcast("msg", ctx.data);
      },
    },
  });
} else if (opts.mode === "idle") {
  // Signed-in sockets, so presence registers every connection.
  route = defineWssRoute({
    auth: ({ handshake }) => {
      const token = handshake.auth.token;
      return typeof token === "string" ? { id: token } : null;
    },
    events: {},
  });
} else {
  throw new Error(`loly server: unknown mode ${String(opts.mode)}`);
}

const rt = await createRealtimeServer({ config, routes: { "/bench": route } });
serveRunner(() => rt.close());
const port = await rt.listen(0);
report({ type: "ready", port });
