import type { IncomingMessage } from "node:http";

/** What the server uses of an Engine.IO connection (`socket.conn`, `io.engine`'s `connection` event). */
export interface EngineConn {
  readonly request: IncomingMessage;
  /** Engine.IO's state: `"closed"` once the session ended. */
  readonly readyState: string;
  close(): void;
  on(event: "close", fn: () => void): void;
}

/**
 * After a namespace CONNECT is refused: long enough for the CONNECT_ERROR packet to be
 * written, then the Engine.IO session is freed.
 */
export const REFUSAL_FLUSH_MS = 200;

/**
 * A session over the per-IP limit is refused at its CONNECT (so the client reads
 * `TOO_MANY_CONNECTIONS`); one that never sends a CONNECT must not hold the session until
 * socket.io's 45 s connect timeout: it is closed after this long.
 */
export const REFUSED_SESSION_MS = 1000;

/** Closes an Engine.IO session after `ms` (unref'd: it never holds the process). */
export function closeAfter(conn: EngineConn, ms: number): void {
  setTimeout(() => conn.close(), ms).unref();
}

/** An Engine.IO connection's event emitter (`emit` is what the hook below replaces). */
interface EngineEmitter {
  emit(event: string | symbol, ...args: unknown[]): boolean;
  on(event: string, fn: (...args: never[]) => void): unknown;
}

/**
 * Hooks two events of every Engine.IO connection: `packetCreate` (each packet queued) and
 * `close`. Listeners would cost memory per connection (a `close` listener array grows past
 * the two engine.io and socket.io add, a `packetCreate` entry grows the events table): one
 * `emit` shared by every connection runs both hooks, then the connection's own `emit`, with
 * the same arguments. A connection whose `emit` is not the one the first had (patched by
 * someone else) gets listeners instead.
 */
export function engineEventHook(
  onPacket: (conn: EngineEmitter, packet: { data?: unknown }) => void,
  onClose: (conn: EngineEmitter) => void,
): (conn: EngineEmitter) => void {
  let base: EngineEmitter["emit"] | undefined;
  const emit = function (this: EngineEmitter, event: string | symbol, first?: unknown): boolean {
    if (event === "packetCreate") onPacket(this, first as { data?: unknown });
    else if (event === "close") onClose(this);
    // biome-ignore lint/complexity/noArguments: forwards every argument as it came, no array per event
    return (base as EngineEmitter["emit"]).apply(this, arguments as unknown as [string | symbol, ...unknown[]]);
  };
  return (conn) => {
    base ??= conn.emit;
    if (conn.emit === base) {
      conn.emit = emit;
      return;
    }
    conn.on("packetCreate", function (this: EngineEmitter, packet: { data?: unknown }) {
      onPacket(this, packet);
    });
    conn.on("close", function (this: EngineEmitter) {
      onClose(this);
    });
  };
}
