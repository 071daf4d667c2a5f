import type {
  AnyWssRoute,
  CompiledValidator,
  ConnectionHook,
  GuardFn,
  RateLimitCfg,
  RateLimitScope,
  TokenBucketSpec,
  WssHandler,
} from "@loly-rt/core";
import { PRESENCE_EVENT } from "@loly-rt/core";
import { compileSchema } from "@loly-rt/core/internal";
import { bucketSpec } from "@loly-rt/ratelimit";
import type { EventTally } from "../metrics.js";
import type { SharedServices } from "../services.js";
import { presenceRequestEvent } from "../socket/live-presence.js";

// biome-ignore lint/suspicious/noExplicitAny: a compiled route runs handlers of every payload and user type
type AnyHandler = WssHandler<any, any, unknown>;
// biome-ignore lint/suspicious/noExplicitAny: as above
type AnyGuard = GuardFn<any, any>;
// biome-ignore lint/suspicious/noExplicitAny: as above
type AnyHook = ConnectionHook<any>;

/** One event of a route, resolved once at start-up. */
export interface CompiledEvent {
  readonly index: number;
  readonly name: string;
  readonly validate: CompiledValidator | null;
  readonly guard: AnyGuard | null;
  readonly requireAuth: boolean;
  readonly handler: AnyHandler;
  /** The event's own bucket, if any. */
  readonly limit: { readonly spec: TokenBucketSpec; readonly scope: RateLimitScope } | null;
  /** Outcomes and handler durations, tallied without label hashing (read on scrape). */
  readonly tally: EventTally;
}

/** A route resolved once at start-up: its event table and hooks. */
export interface CompiledRoute {
  readonly pattern: string;
  readonly route: AnyWssRoute;
  readonly events: Map<string, CompiledEvent>;
  readonly requireAuth: boolean;
  readonly onConnect: AnyHook | null;
  readonly onDisconnect: AnyHook | null;
  readonly globalSpec: TokenBucketSpec;
  readonly globalScope: RateLimitScope;
  /** `presence: { broadcast: true }`: joins and departures are announced on `__loly:presence`. */
  readonly broadcastPresence: boolean;
}

/** Resolves a route into its event table: schemas compiled, buckets sized, metrics bound. */
export function compileRoute(pattern: string, route: AnyWssRoute, shared: Pick<SharedServices, "config" | "metrics">): CompiledRoute {
  const { metrics, config } = shared;
  const events = new Map<string, CompiledEvent>();
  let index = 0;
  for (const [name, entry] of Object.entries(route.events as Record<string, unknown>)) {
    const def = typeof entry === "function" ? { handler: entry as AnyHandler } : (entry as Record<string, unknown>);
    const rate = def.rateLimit as RateLimitCfg | undefined;
    events.set(name, {
      index: index++,
      name,
      validate: def.schema !== undefined ? compileSchema(def.schema as never) : null,
      guard: (def.guard as AnyGuard | undefined) ?? null,
      requireAuth: def.requireAuth === true,
      handler: def.handler as AnyHandler,
      limit: rate ? { spec: bucketSpec(rate), scope: rate.scope ?? "socket" } : null,
      tally: metrics.tally(pattern, name),
    });
  }
  const broadcastPresence = (route.presence as { broadcast?: unknown } | undefined)?.broadcast === true;
  if (broadcastPresence) {
    // The built-in snapshot request (a route may not declare `__loly:*` events): the pipeline
    // runs it like any event (global bucket, one payload, validation, ack).
    const builtIn = presenceRequestEvent(config.handlerTimeoutMs);
    events.set(PRESENCE_EVENT, {
      index: index++,
      name: PRESENCE_EVENT,
      validate: builtIn.validate,
      guard: null,
      requireAuth: false,
      handler: builtIn.handler as AnyHandler,
      limit: null,
      tally: metrics.tally(pattern, PRESENCE_EVENT),
    });
  }
  return {
    pattern,
    route,
    events,
    broadcastPresence,
    requireAuth: route.requireAuth === true,
    onConnect: (route.onConnect as AnyHook | undefined) ?? null,
    onDisconnect: (route.onDisconnect as AnyHook | undefined) ?? null,
    globalSpec: bucketSpec({ eventsPerSecond: config.limits.eventsPerSecond, burst: config.limits.burst }),
    globalScope: config.limits.scope,
  };
}
