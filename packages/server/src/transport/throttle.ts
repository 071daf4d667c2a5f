/** What throttling reads of an Engine.IO session (socket.io's `socket.conn`). */
interface ThrottledSession {
  readonly transport?: { readonly name?: string; readonly socket?: { pause?(): void; resume?(): void } };
}

/** Until when (monotonic ms) each throttled session's reads are paused. */
const pausedUntil = new WeakMap<object, number>();

/** The shortest and longest pause of a throttled session's reads. */
const MIN_PAUSE_MS = 100;
const MAX_PAUSE_MS = 1000;

/**
 * Input backpressure for a client that sends faster than its global bucket refills: the
 * server stops reading its connection for a while (the client's own TCP buffers fill up and
 * its writes stall), so a flooder cannot take the event loop from the other clients. A
 * websocket is paused at once (`ws.pause()`: frames already read are still handled); a
 * long-polling session's next POST is held back (`pollingDelayMs`) before its body is read.
 */
export function throttleReads(conn: ThrottledSession | undefined, retryAfterMs: number): void {
  if (conn === undefined) return;
  const now = performance.now();
  if ((pausedUntil.get(conn) ?? 0) > now) return;
  const ms = Math.min(MAX_PAUSE_MS, Math.max(MIN_PAUSE_MS, retryAfterMs));
  pausedUntil.set(conn, now + ms);
  const ws = conn.transport?.name === "websocket" ? conn.transport.socket : undefined;
  if (ws?.pause === undefined || ws.resume === undefined) return;
  ws.pause();
  setTimeout(() => ws.resume?.(), ms).unref();
}

/** How long a throttled polling session's next POST must wait (0: not throttled). */
export function pollingDelayMs(conn: object): number {
  const until = pausedUntil.get(conn);
  return until === undefined ? 0 : Math.max(0, until - performance.now());
}
