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
