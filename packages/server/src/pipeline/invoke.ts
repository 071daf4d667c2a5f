import { isThenable } from "@loly-rt/core/internal";
import type { CompiledEvent } from "../routes/compile.js";
import type { SocketRecord } from "../socket/record.js";
import type { EventContext } from "./context.js";
import { answer, fail, pipelineFailed, type Ack } from "./respond.js";

/** A handler that did not settle within `handlerTimeoutMs`. */
export class HandlerTimeoutError extends Error {
  constructor(event: string, ms: number) {
    super(`handler of "${event}" did not settle within ${ms} ms`);
    this.name = "HandlerTimeoutError";
  }
}

/** The last stage: runs the handler (started at `start`, monotonic ms), times it and answers the ack. */
export function invoke(rec: SocketRecord, ev: CompiledEvent, ctx: EventContext, ack: Ack, start: number): void {
  let result: unknown;
  try {
    result = ev.handler(ctx as never);
  } catch (err) {
    return fail(rec, ctx, ev, ack, err);
  }
  if (isThenable(result)) {
    settleHandler(rec, ev, ctx, ack, result, start);
    return;
  }
  ev.tally.observe((performance.now() - start) / 1000);
  if (ack) answer(rec, ev, ctx, ack, result);
  else ev.tally.ok++;
}

/** An async handler: answered when it settles, or `INTERNAL` after `handlerTimeoutMs` (whichever first). */
function settleHandler(
  rec: SocketRecord,
  ev: CompiledEvent,
  ctx: EventContext,
  ack: Ack,
  result: PromiseLike<unknown>,
  start: number,
): void {
  const timeoutMs = rec.shared.config.handlerTimeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let done = false;
  if (timeoutMs > 0) {
    timer = setTimeout(() => {
      if (done) return;
      done = true;
      rec.inFlight--;
      fail(rec, ctx, ev, ack, new HandlerTimeoutError(ev.name, timeoutMs));
    }, timeoutMs);
    timer.unref?.();
  }
  const settled = (): boolean => {
    if (timer) clearTimeout(timer);
    if (done) return false;
    done = true;
    rec.inFlight--;
    ev.tally.observe((performance.now() - start) / 1000);
    return true;
  };
  // In flight until answered (by its result or by the timeout): what a drain waits for.
  rec.inFlight++;
  result
    .then(
      (value) => {
        if (!settled()) return;
        if (ack) answer(rec, ev, ctx, ack, value);
        else ev.tally.ok++;
      },
      (err: unknown) => {
        if (settled()) fail(rec, ctx, ev, ack, err);
      },
    )
    .then(undefined, (err: unknown) => pipelineFailed(rec, err, ack));
}
