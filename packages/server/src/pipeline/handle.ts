import type { RateLimitDecision, RateLimitScope, ValidationResult } from "@loly-rt/core";
import { isThenable } from "@loly-rt/core/internal";
import { TokenBucket } from "@loly-rt/ratelimit";
import { Socket as SocketClass, type Socket } from "socket.io";
import type { CompiledEvent } from "../routes/compile.js";
import type { SocketRecord } from "../socket/record.js";
import { EventContext } from "./context.js";
import { throttleReads } from "../transport/throttle.js";
import { invoke } from "./invoke.js";
import { fail, pipelineFailed, refuse, refuseRate, whenSettled, type Ack } from "./respond.js";

/*
 * The event pipeline, stage by stage. Each stage runs synchronously and calls the next one
 * directly; only a stage that got a promise (an async schema, guard, shared limiter or
 * handler) continues later, through `whenSettled`. `now` is the monotonic time (ms) the
 * pipeline stands at: bucket decisions and the handler's start use it.
 *
 * Order: global bucket (a flood guard: it also covers unknown events and invalid payloads),
 * requireAuth, one payload argument at most, schema, guard, the event's own bucket, handler, ack.
 */

/** The name of an EVENT packet that carries none. */
const NO_NAME = "";
/** The refusal of an event sent with more than one payload argument (SPEC 11: never dropped silently). */
const ONE_PAYLOAD = "events take one payload";

/** The key of a shared (`ip`/`user`) bucket: the route's global one (`event` null) or an event's. */
function bucketKey(rec: SocketRecord, scope: RateLimitScope, event: string | null): string {
  const who = scope === "ip" ? `ip:${rec.ip}` : rec.userId !== null ? `user:${rec.userId}` : `socket:${rec.socket.id}`;
  return event === null ? `${rec.route.pattern}|*|${who}` : `${rec.route.pattern}|${event}|${who}`;
}

/** Runs one incoming packet (`[event, payload?, ack?]`) through the pipeline. */
export function handlePacket(rec: SocketRecord, args: unknown[]): void {
  const last = args[args.length - 1];
  const ack = typeof last === "function" ? (last as (r: unknown) => void) : undefined;
  const name = args[0];
  // `[event, ...payloads, ack?]`: how many payload arguments came (more than one is refused later).
  const argc = args.length - (ack ? 2 : 1);
  const payload = argc > 0 ? args[1] : undefined;
  // An EVENT packet without a name (`42/chat,`) is not an unknown event called "undefined".
  const eventName = typeof name === "string" ? name : name === undefined || name === ack ? NO_NAME : String(name);
  // The server is closing this connection (a drain): not run, answered at once.
  if (rec.closing) return refuse(rec, null, eventName, ack, "UNAVAILABLE", "server shutting down: send it again once reconnected");

  // One clock reading serves both buckets and the handler's start (sync path).
  const now = performance.now();
  if (rec.route.globalScope === "socket") {
    // Created full on the first event: what a bucket made at connect would hold by then.
    const gb = (rec.globalBucket ??= new TokenBucket(rec.route.globalSpec, now));
    if (!gb.take(1, now)) {
      const retryAfterMs = gb.retryAfterMs();
      // More refusals in a row than the bucket holds: a flood, not a burst. Stop reading it a while.
      if (++rec.overflow > rec.route.globalSpec.capacity) {
        rec.overflow = 0;
        throttleReads(rec.socket.conn, retryAfterMs);
      }
      return refuseRate(rec, null, eventName, ack, "global", "socket", retryAfterMs);
    }
    rec.overflow = 0;
  } else {
    const scope = rec.route.globalScope;
    const d = rec.shared.sharedLimiter.consume(bucketKey(rec, scope, null), rec.route.globalSpec);
    if (isThenable<RateLimitDecision>(d)) {
      return whenSettled(
        rec,
        ack,
        d,
        (r) =>
          r.allowed
            ? routeEvent(rec, eventName, payload, argc, ack, performance.now())
            : refuseRate(rec, null, eventName, ack, "global", scope, r.retryAfterMs),
        (err) => pipelineFailed(rec, err, ack),
      );
    }
    if (!d.allowed) return refuseRate(rec, null, eventName, ack, "global", scope, d.retryAfterMs);
  }
  routeEvent(rec, eventName, payload, argc, ack, now);
}

/** Finds the event, checks `requireAuth`, checks there is one payload argument at most and validates it. */
function routeEvent(rec: SocketRecord, eventName: string, payload: unknown, argc: number, ack: Ack, now: number): void {
  const ev = rec.route.events.get(eventName);
  if (ev === undefined) {
    if (eventName === NO_NAME) return refuse(rec, null, eventName, ack, "BAD_PAYLOAD", "An event needs a name");
    return refuse(rec, null, eventName, ack, "UNKNOWN_EVENT", `Unknown event "${eventName}"`);
  }
  if (ev.requireAuth && rec.userId === null) {
    ev.tally.refused++;
    return refuse(rec, null, eventName, ack, "UNAUTHORIZED", "Sign in to use this event");
  }
  if (argc > 1) return tooManyPayloads(rec, ev, argc, ack);
  if (ev.validate !== null) {
    const r = ev.validate(payload);
    if (isThenable<ValidationResult>(r)) {
      return whenSettled(
        rec,
        ack,
        r,
        (res) => validated(rec, ev, res, ack, performance.now()),
        (err) => fail(rec, new EventContext(rec, ev.name, payload), ev, ack, err),
      );
    }
    return validated(rec, ev, r, ack, now);
  }
  guard(rec, ev, new EventContext(rec, ev.name, payload), ack, now);
}

/** `emit("ev", a, b)`: refused, never handled with `b` dropped (socket.io would hand a listener both). */
function tooManyPayloads(rec: SocketRecord, ev: CompiledEvent, argc: number, ack: Ack): void {
  ev.tally.refused++;
  const message = `got ${argc} payload arguments; send one value (an object or an array to carry several)`;
  refuse(rec, null, ev.name, ack, "BAD_PAYLOAD", ONE_PAYLOAD, { issues: [{ path: "", message }] });
}

function validated(rec: SocketRecord, ev: CompiledEvent, r: ValidationResult, ack: Ack, now: number): void {
  if (!r.ok) {
    ev.tally.refused++;
    return refuse(rec, null, ev.name, ack, "BAD_PAYLOAD", "Invalid payload", { issues: r.issues });
  }
  guard(rec, ev, new EventContext(rec, ev.name, r.value), ack, now);
}

function guard(rec: SocketRecord, ev: CompiledEvent, ctx: EventContext, ack: Ack, now: number): void {
  if (ev.guard !== null) {
    let ok: boolean | PromiseLike<boolean>;
    try {
      ok = ev.guard(ctx as never);
    } catch (err) {
      return fail(rec, ctx, ev, ack, err);
    }
    if (isThenable<boolean>(ok)) {
      return whenSettled(
        rec,
        ack,
        ok,
        (v) => (v ? eventLimit(rec, ev, ctx, ack, performance.now()) : forbid(rec, ev, ctx, ack)),
        (err) => fail(rec, ctx, ev, ack, err),
      );
    }
    if (!ok) return forbid(rec, ev, ctx, ack);
  }
  eventLimit(rec, ev, ctx, ack, now);
}

function forbid(rec: SocketRecord, ev: CompiledEvent, ctx: EventContext, ack: Ack): void {
  ev.tally.refused++;
  refuse(rec, ctx, ev.name, ack, "FORBIDDEN", "Not allowed");
}

/** The event's own bucket: per socket in process, or shared (`ip`/`user`, cluster-wide in cluster mode). */
function eventLimit(rec: SocketRecord, ev: CompiledEvent, ctx: EventContext, ack: Ack, now: number): void {
  const limit = ev.limit;
  if (limit !== null) {
    if (limit.scope === "socket") {
      const buckets = (rec.eventBuckets ??= []);
      const b = (buckets[ev.index] ??= new TokenBucket(limit.spec));
      if (!b.take(1, now)) {
        ev.tally.refused++;
        return refuseRate(rec, ctx, ev.name, ack, "event", "socket", b.retryAfterMs());
      }
    } else {
      const d = rec.shared.sharedLimiter.consume(bucketKey(rec, limit.scope, ev.name), limit.spec);
      if (isThenable<RateLimitDecision>(d)) {
        return whenSettled(
          rec,
          ack,
          d,
          (r) => limited(rec, ev, ctx, ack, r, limit.scope, performance.now()),
          (err) => pipelineFailed(rec, err, ack),
        );
      }
      if (!d.allowed) return limited(rec, ev, ctx, ack, d, limit.scope, now);
    }
  }
  invoke(rec, ev, ctx, ack, now);
}

function limited(
  rec: SocketRecord,
  ev: CompiledEvent,
  ctx: EventContext,
  ack: Ack,
  d: RateLimitDecision,
  scope: RateLimitScope,
  now: number,
): void {
  if (d.allowed) return invoke(rec, ev, ctx, ack, now);
  ev.tally.refused++;
  refuseRate(rec, ctx, ev.name, ack, "event", scope, d.retryAfterMs);
}

/** Runs one incoming packet of a socket, a pipeline error answered, never thrown into Socket.IO. */
function runPacket(rec: SocketRecord, packet: unknown[]): void {
  try {
    handlePacket(rec, packet);
  } catch (err) {
    const last = packet[packet.length - 1];
    pipelineFailed(rec, err, typeof last === "function" ? (last as (r: unknown) => void) : undefined);
  }
}

/** A Socket.IO socket's own step from a decoded EVENT (after `onAny` listeners) to its middlewares and listeners. */
type Dispatching = { dispatch?: (args: unknown[]) => void; [RECORD]?: SocketRecord };

/** Where a connected socket keeps its record, for the shared `dispatch` below. */
const RECORD = Symbol("loly.record");

/**
 * Whether Socket.IO's sockets hand each decoded event to `dispatch(args)` (4.x): then the
 * pipeline takes that step, with no middleware array and no per-event copy of it.
 */
const DISPATCH = typeof (SocketClass.prototype as unknown as Dispatching).dispatch === "function";

/** Every socket's `dispatch` (`this` is the socket): one function for all. */
function dispatch(this: Dispatching, args: unknown[]): void {
  runPacket(this[RECORD] as SocketRecord, args);
}

/**
 * Installs the pipeline on a connected socket: the socket's `dispatch` (where Socket.IO would
 * run `socket.use()` middlewares, then emit to `socket.on()` listeners) becomes the pipeline
 * for the socket's record: two fields per connection, nothing per event (a `socket.use()`
 * middleware costs a middleware array and its closure per connection, and an array copy and
 * a closure per event). `onAny` listeners still see every event first, as they do in
 * Socket.IO. A Socket.IO without `dispatch` gets the same pipeline as a middleware.
 */
export function attachPipeline(socket: Socket, rec: SocketRecord, viaDispatch = DISPATCH): void {
  if (viaDispatch) {
    const s = socket as unknown as Dispatching;
    s[RECORD] = rec;
    s.dispatch = dispatch;
  } else socket.use((packet) => runPacket(rec, packet as unknown[]));
}
