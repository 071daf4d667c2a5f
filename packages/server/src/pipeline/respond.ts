import { randomUUID } from "node:crypto";
import {
  ERROR_EVENT,
  LolyError,
  isClientErrorCode,
  thrownMessage,
  toClientError,
  type ClientErrorCode,
  type LolyErrorBody,
  type RateLimitScope,
} from "@loly-rt/core";
import type { CompiledEvent } from "../routes/compile.js";
import type { SocketRecord } from "../socket/record.js";
import type { EventContext } from "./context.js";

/** The client's acknowledgement callback, when it sent one. */
export type Ack = ((response: unknown) => void) | undefined;

/**
 * Refuses an event: `__loly:error` to the caller, the ack (if any) answered, counted.
 * The handler never runs.
 */
export function refuse(
  rec: SocketRecord,
  ctx: EventContext | null,
  event: string,
  ack: Ack,
  code: ClientErrorCode,
  message: string,
  details?: unknown,
): void {
  const { metrics, logger } = rec.shared;
  metrics.errors.labels(rec.route.pattern, code).inc();
  // A refusal nobody asked for (no ack), to a socket already over its error rate (a flood):
  // dropped, never queued, so refusals cannot amplify a flood.
  if (!ack && !rec.refusalBudget().take(1, performance.now())) {
    metrics.refusalsDropped.labels(rec.route.pattern).inc();
    return;
  }
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
  if (logger.level === "debug" || logger.level === "trace") {
    rec.logger().debug({ event, requestId, code, details }, `event refused: ${code}`);
  }
}

/** Refuses an event whose global or own bucket is empty (`RATE_LIMIT`, with `retryAfterMs`). */
export function refuseRate(
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

/** A handler's result that could not be sent to the client. */
export class AnswerEncodeError extends Error {
  constructor(event: string, cause: unknown) {
    super(`the result of "${event}" could not be sent: ${thrownMessage(cause)}`, { cause });
    this.name = "AnswerEncodeError";
  }
}

/**
 * Acks a handler's result. A result socket.io cannot encode (too deep, cyclic, BigInt) would
 * throw out of the pipeline (from a promise callback: an unhandled rejection); the client gets
 * INTERNAL instead (socket.io marks an ack as sent only once it is written, so it can still
 * be answered) and the log says why.
 */
export function answer(rec: SocketRecord, ev: CompiledEvent, ctx: EventContext, ack: (r: unknown) => void, data: unknown): void {
  // JSON would drop a function or a symbol and answer `{ ok: true }` as if the result were empty.
  if (typeof data === "function" || typeof data === "symbol") {
    return fail(rec, ctx, ev, ack, new AnswerEncodeError(ev.name, new TypeError(`a ${typeof data} is not data`)));
  }
  try {
    ack({ ok: true, data });
  } catch (err) {
    return fail(rec, ctx, ev, ack, new AnswerEncodeError(ev.name, err));
  }
  ev.tally.ok++;
}

/** A handler, guard or async schema failed: the client gets its code, the log gets it all. */
export function fail(rec: SocketRecord, ctx: EventContext, ev: CompiledEvent, ack: Ack, err: unknown): void {
  ev.tally.error++;
  const body = toClientError(err, rec.shared.production);
  // A refusal the handler chose, or a backend outage (logged once per outage by the
  // component that saw it), is not a handler failure: debug only, no per-event error spam.
  const expected = LolyError.is(err) && isClientErrorCode(err.code) && err.code !== "INTERNAL";
  try {
    if (expected) ctx.log.debug({ code: body.code }, `handler refused: ${body.message}`);
    else ctx.log.error({ err, code: body.code }, `handler failed: ${thrownMessage(err)}`);
  } catch {
    // A broken logger must not take the socket down.
  }
  if (!rec.socket.connected) return;
  refuse(rec, ctx, ev.name, ack, body.code, body.message, body.details);
}

/**
 * Nothing in the pipeline should throw; if something does (synchronously, or in an async
 * continuation, where it would be an unhandled rejection), the process and the socket live on
 * and a waiting client still gets an answer (socket.io acks at most once).
 */
export function pipelineFailed(rec: SocketRecord, err: unknown, ack: Ack): void {
  try {
    rec.logger().error({ err }, "event pipeline failed");
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

/**
 * The one way the pipeline continues after a step returned a promise: `onValue` or
 * `onError` when it settles, and whatever they throw ends in {@link pipelineFailed}.
 */
export function whenSettled<T>(
  rec: SocketRecord,
  ack: Ack,
  pending: PromiseLike<T>,
  onValue: (value: T) => void,
  onError: (err: unknown) => void,
): void {
  rec.inFlight++;
  const settled = (): void => {
    rec.inFlight--;
  };
  pending
    .then(onValue, onError)
    .then(undefined, (err: unknown) => pipelineFailed(rec, err, ack))
    .then(settled, settled);
}
