import { randomUUID } from "node:crypto";
import type { Socket } from "socket.io";
import {
  ERROR_EVENT,
  LolyError,
  compileSchema,
  isClientErrorCode,
  type AnyWssRoute,
  type ClientErrorCode,
  type CompiledValidator,
  type ConnectionHook,
  type GuardFn,
  type LolyErrorBody,
  type RateLimitCfg,
  type RateLimitDecision,
  type RateLimitScope,
  type SchemaIssue,
  type TokenBucketSpec,
  type ValidationResult,
  type WssHandler,
} from "@loly-rt/core";
import { TokenBucket, bucketSpec } from "@loly-rt/ratelimit";
import type { EventTally } from "./metrics.js";
import { EventContext, socketLogger } from "./context.js";
import type { SocketRecord, SharedServices } from "./record.js";

type AnyHandler = WssHandler<any, any, unknown>;
type AnyGuard = GuardFn<any, any>;

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
  readonly onConnect: ConnectionHook<any> | null;
  readonly onDisconnect: ConnectionHook<any> | null;
  readonly globalSpec: TokenBucketSpec;
  readonly globalScope: RateLimitScope;
}

/** Resolves a route into its event table: schemas compiled, buckets sized, metrics bound. */
export function compileRoute(pattern: string, route: AnyWssRoute, shared: SharedServices): CompiledRoute {
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
  return {
    pattern,
    route,
    events,
    requireAuth: route.requireAuth === true,
    onConnect: (route.onConnect as ConnectionHook<any> | undefined) ?? null,
    onDisconnect: (route.onDisconnect as ConnectionHook<any> | undefined) ?? null,
    globalSpec: bucketSpec({ eventsPerSecond: config.limits.eventsPerSecond, burst: config.limits.burst }),
    globalScope: config.limits.scope,
  };
}

/** A new per-socket global bucket, when the global scope is per socket. */
export function globalBucketFor(route: CompiledRoute): TokenBucket | null {
  return route.globalScope === "socket" ? new TokenBucket(route.globalSpec) : null;
}

const GENERIC_INTERNAL = "Internal server error";

/** What a thrown value becomes for the client: a LolyError's own code, else INTERNAL. */
export function toClientError(err: unknown, production: boolean): LolyErrorBody {
  if (LolyError.is(err) && isClientErrorCode(err.code)) {
    const body: LolyErrorBody = { code: err.code, message: err.message };
    if (err.details !== undefined) body.details = err.details;
    return body;
  }
  if (production) return { code: "INTERNAL", message: GENERIC_INTERNAL };
  const message = err instanceof Error ? err.message : String(err);
  return { code: "INTERNAL", message: message || GENERIC_INTERNAL };
}

function isThenable<T>(v: unknown): v is PromiseLike<T> {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as PromiseLike<T>).then === "function";
}

type Ack = ((response: unknown) => void) | undefined;

/**
 * Refuses an event: `__loly:error` to the caller, the ack (if any) answered, counted.
 * The handler never runs.
 */
function refuse(
  rec: SocketRecord,
  ctx: EventContext | null,
  event: string,
  ack: Ack,
  code: ClientErrorCode,
  message: string,
  details?: unknown,
): void {
  const requestId = ctx ? ctx.requestId : randomUUID();
  let body: LolyErrorBody = details === undefined ? { code, message } : { code, message, details };
  try {
    rec.socket.emit(ERROR_EVENT, { ...body, event, requestId });
  } catch {
    // `details` a handler gave its LolyError cannot be encoded (cyclic, BigInt): send without them.
    body = { code, message };
    rec.socket.emit(ERROR_EVENT, { ...body, event, requestId });
  }
  if (ack) ack({ ok: false, error: body });
  const { metrics, logger } = rec.shared;
  metrics.errors.labels(rec.route.pattern, code).inc();
  if (logger.level === "debug" || logger.level === "trace") {
    socketLogger(rec).debug({ event, requestId, code, details }, `event refused: ${code}`);
  }
}


function refuseRate(
  rec: SocketRecord,
  ctx: EventContext | null,
  event: string,
  ack: Ack,
  limit: "global" | "event",
  scope: RateLimitScope,
  retryAfterMs: number,
): void {
  rec.shared.metrics.rateLimited.labels(rec.route.pattern, limit, scope).inc();
  refuse(rec, ctx, event, ack, "RATE_LIMIT", "Too many events: slow down", { retryAfterMs, limit, scope });
}

/** A shared limiter that rejected (it should not: the policy wrapper answers instead). */
function storeDecision(rec: SocketRecord): RateLimitDecision {
  return rec.shared.config.limits.onStoreError === "allow"
    ? { allowed: true, remaining: 0, retryAfterMs: 0 }
    : { allowed: false, remaining: 0, retryAfterMs: 1000 };
}

function bucketKey(rec: SocketRecord, scope: RateLimitScope, event: string | null): string {
  const who = scope === "ip" ? `ip:${rec.ip}` : rec.userId !== null ? `user:${rec.userId}` : `socket:${rec.socket.id}`;
  return event === null ? `${rec.route.pattern}|*|${who}` : `${rec.route.pattern}|${event}|${who}`;
}

/**
 * The event pipeline. Runs synchronously until something returns a promise (an async schema,
 * guard, shared limiter or handler); only then does it continue asynchronously.
 *
 * Order: global bucket (a flood guard: it also covers unknown events and invalid payloads),
 * requireAuth, schema, guard, the event's own bucket, handler, ack.
 */
export function handlePacket(rec: SocketRecord, args: unknown[]): void {
  const last = args[args.length - 1];
  const ack = typeof last === "function" ? (last as (r: unknown) => void) : undefined;
  const name = args[0];
  const payload = args.length > (ack ? 2 : 1) ? args[1] : undefined;
  const eventName = typeof name === "string" ? name : String(name);

  // One clock reading serves both buckets and the handler's start (sync path).
  const now = performance.now();
  // Global bucket
  const gb = rec.globalBucket;
  if (gb !== null) {
    if (!gb.take(1, now)) return refuseRate(rec, null, eventName, ack, "global", "socket", gb.retryAfterMs());
  } else {
    const scope = rec.route.globalScope;
    const d = rec.shared.sharedLimiter.consume(bucketKey(rec, scope, null), rec.route.globalSpec);
    if (isThenable<RateLimitDecision>(d)) {
      const decide = (r: RateLimitDecision): void =>
        r.allowed ? afterGlobal(rec, eventName, payload, ack, performance.now()) : refuseRate(rec, null, eventName, ack, "global", scope, r.retryAfterMs);
      d.then(decide, () => decide(storeDecision(rec))).then(undefined, (err: unknown) => pipelineFailed(rec, err, ack));
      return;
    }
    if (!d.allowed) return refuseRate(rec, null, eventName, ack, "global", scope, d.retryAfterMs);
  }
  afterGlobal(rec, eventName, payload, ack, now);
}

function afterGlobal(rec: SocketRecord, eventName: string, payload: unknown, ack: Ack, now: number): void {
  const ev = rec.route.events.get(eventName);
  if (ev === undefined) return refuse(rec, null, eventName, ack, "UNKNOWN_EVENT", `Unknown event "${eventName}"`);
  if (ev.requireAuth && rec.userId === null) {
    ev.tally.refused++;
    return refuse(rec, null, eventName, ack, "UNAUTHORIZED", "Sign in to use this event");
  }
  if (ev.validate !== null) {
    const r = ev.validate(payload);
    if (isThenable<ValidationResult>(r)) {
      r.then(
        (res) => afterValidate(rec, ev, res, ack, performance.now()),
        (err: unknown) => fail(rec, new EventContext(rec, ev.name, payload, performance.now()), ev, ack, err),
      ).then(undefined, (err: unknown) => pipelineFailed(rec, err, ack));
      return;
    }
    return afterValidate(rec, ev, r, ack, now);
  }
  runGuard(rec, ev, new EventContext(rec, ev.name, payload, now), ack);
}

function afterValidate(rec: SocketRecord, ev: CompiledEvent, r: ValidationResult, ack: Ack, now: number): void {
  if (!r.ok) {
    ev.tally.refused++;
    const issues: SchemaIssue[] = r.issues;
    return refuse(rec, null, ev.name, ack, "BAD_PAYLOAD", "Invalid payload", { issues });
  }
  runGuard(rec, ev, new EventContext(rec, ev.name, r.value, now), ack);
}

function runGuard(rec: SocketRecord, ev: CompiledEvent, ctx: EventContext, ack: Ack): void {
  if (ev.guard !== null) {
    let ok: boolean | PromiseLike<boolean>;
    try {
      ok = ev.guard(ctx as never);
    } catch (err) {
      return fail(rec, ctx, ev, ack, err);
    }
    if (isThenable<boolean>(ok)) {
      ok.then(
        (v) => {
          ctx.at = performance.now();
          v ? eventLimit(rec, ev, ctx, ack) : forbid(rec, ev, ctx, ack);
        },
        (err: unknown) => fail(rec, ctx, ev, ack, err),
      ).then(undefined, (err: unknown) => pipelineFailed(rec, err, ack));
      return;
    }
    if (!ok) return forbid(rec, ev, ctx, ack);
  }
  eventLimit(rec, ev, ctx, ack);
}

function forbid(rec: SocketRecord, ev: CompiledEvent, ctx: EventContext, ack: Ack): void {
  ev.tally.refused++;
  refuse(rec, ctx, ev.name, ack, "FORBIDDEN", "Not allowed");
}

function eventLimit(rec: SocketRecord, ev: CompiledEvent, ctx: EventContext, ack: Ack): void {
  const limit = ev.limit;
  if (limit !== null) {
    if (limit.scope === "socket") {
      const buckets = (rec.eventBuckets ??= []);
      const b = (buckets[ev.index] ??= new TokenBucket(limit.spec));
      if (!b.take(1, ctx.at)) {
        ev.tally.refused++;
        return refuseRate(rec, ctx, ev.name, ack, "event", "socket", b.retryAfterMs());
      }
    } else {
      const d = rec.shared.sharedLimiter.consume(bucketKey(rec, limit.scope, ev.name), limit.spec);
      if (isThenable<RateLimitDecision>(d)) {
        const decide = (r: RateLimitDecision): void => {
          ctx.at = performance.now();
          if (r.allowed) return invoke(rec, ev, ctx, ack);
          ev.tally.refused++;
          refuseRate(rec, ctx, ev.name, ack, "event", limit.scope, r.retryAfterMs);
        };
        d.then(decide, () => decide(storeDecision(rec))).then(undefined, (err: unknown) => pipelineFailed(rec, err, ack));
        return;
      }
      if (!d.allowed) {
        ev.tally.refused++;
        return refuseRate(rec, ctx, ev.name, ack, "event", limit.scope, d.retryAfterMs);
      }
    }
  }
  invoke(rec, ev, ctx, ack);
}

function invoke(rec: SocketRecord, ev: CompiledEvent, ctx: EventContext, ack: Ack): void {
  const start = ctx.at;
  let result: unknown;
  try {
    result = ev.handler(ctx as never);
  } catch (err) {
    return fail(rec, ctx, ev, ack, err);
  }
  if (isThenable(result)) {
    settleAsync(rec, ev, ctx, ack, result, start);
    return;
  }
  ev.tally.observe((performance.now() - start) / 1000);
  if (ack) answer(rec, ev, ctx, ack, result);
  else ev.tally.ok++;
}

/**
 * Acks a handler's result. A result socket.io cannot encode (too deep, cyclic, BigInt) would
 * throw out of the pipeline (from a promise callback: an unhandled rejection); the client gets
 * INTERNAL instead (socket.io marks an ack as sent only once it is written, so it can still
 * be answered) and the log says why.
 */
function answer(rec: SocketRecord, ev: CompiledEvent, ctx: EventContext, ack: (r: unknown) => void, data: unknown): void {
  try {
    ack({ ok: true, data });
  } catch (err) {
    return fail(rec, ctx, ev, ack, new AnswerEncodeError(ev.name, err));
  }
  ev.tally.ok++;
}

/** A handler's result that could not be sent to the client. */
export class AnswerEncodeError extends Error {
  constructor(event: string, cause: unknown) {
    super(`the result of "${event}" could not be sent: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "AnswerEncodeError";
  }
}

function settleAsync(rec: SocketRecord, ev: CompiledEvent, ctx: EventContext, ack: Ack, result: PromiseLike<unknown>, start: number): void {
  const timeoutMs = rec.shared.config.handlerTimeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let done = false;
  if (timeoutMs > 0) {
    timer = setTimeout(() => {
      if (done) return;
      done = true;
      fail(rec, ctx, ev, ack, new HandlerTimeoutError(ev.name, timeoutMs));
    }, timeoutMs);
    timer.unref?.();
  }
  result.then(
    (value) => {
      if (timer) clearTimeout(timer);
      if (done) return;
      done = true;
      ev.tally.observe((performance.now() - start) / 1000);
      if (ack) answer(rec, ev, ctx, ack, value);
      else ev.tally.ok++;
    },
    (err: unknown) => {
      if (timer) clearTimeout(timer);
      if (done) return;
      done = true;
      ev.tally.observe((performance.now() - start) / 1000);
      fail(rec, ctx, ev, ack, err);
    },
  ).then(undefined, (err: unknown) => pipelineFailed(rec, err, ack));
}

/** A handler that did not settle within `handlerTimeoutMs`. */
export class HandlerTimeoutError extends Error {
  constructor(event: string, ms: number) {
    super(`handler of "${event}" did not settle within ${ms} ms`);
    this.name = "HandlerTimeoutError";
  }
}

/** A handler, guard or async schema failed: the client gets its code, the log gets it all. */
function fail(rec: SocketRecord, ctx: EventContext, ev: CompiledEvent, ack: Ack, err: unknown): void {
  ev.tally.error++;
  const body = toClientError(err, rec.shared.production);
  // A refusal the handler chose, or a backend outage (logged once per outage by the
  // component that saw it), is not a handler failure: debug only, no per-event error spam.
  const expected = LolyError.is(err) && isClientErrorCode(err.code) && err.code !== "INTERNAL";
  try {
    if (expected) ctx.log.debug({ code: body.code }, `handler refused: ${body.message}`);
    else ctx.log.error({ err, code: body.code }, `handler failed: ${err instanceof Error ? err.message : String(err)}`);
  } catch {
    // A broken logger must not take the socket down.
  }
  if (!rec.socket.connected) return;
  refuse(rec, ctx, ev.name, ack, body.code, body.message, body.details);
}

/** Runs a connection hook; a throw is logged, never fatal. */
export async function runHook(rec: SocketRecord, hook: ConnectionHook<any>, event: "connect" | "disconnect", reason?: string): Promise<void> {
  const ctx = new EventContext(rec, event, undefined);
  if (reason !== undefined) ctx.reason = reason;
  try {
    await hook(ctx as never);
  } catch (err) {
    try {
      ctx.log.error({ err }, `${event === "connect" ? "onConnect" : "onDisconnect"} failed: ${err instanceof Error ? err.message : String(err)}`);
    } catch {
      // ignore logger failures
    }
  }
}

/**
 * Nothing in the pipeline should throw; if something does (synchronously, or in an async
 * continuation, where it would be an unhandled rejection), the process and the socket live on
 * and a waiting client still gets an answer (socket.io acks at most once).
 */
function pipelineFailed(rec: SocketRecord, err: unknown, ack: Ack): void {
  try {
    socketLogger(rec).error({ err }, "event pipeline failed");
  } catch {
    // ignore
  }
  if (ack) {
    try {
      ack({ ok: false, error: toClientError(err, rec.shared.production) });
    } catch {
      // nothing more can be sent
    }
  }
}

/** Installs the pipeline on a connected socket: one middleware closure, no per-event listeners. */
export function attachPipeline(socket: Socket, rec: SocketRecord): void {
  socket.use((packet) => {
    try {
      handlePacket(rec, packet as unknown[]);
    } catch (err) {
      const last = (packet as unknown[])[(packet as unknown[]).length - 1];
      pipelineFailed(rec, err, typeof last === "function" ? (last as (r: unknown) => void) : undefined);
    }
  });
}
