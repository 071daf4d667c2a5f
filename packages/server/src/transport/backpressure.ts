import type { LolyLogger } from "@loly-rt/core";
import type { Sessions } from "../connection/sessions.js";
import type { ServerMetrics } from "../metrics.js";

/** What backpressure reads of an Engine.IO session (socket.io's `socket.conn`). */
interface EngineSession {
  readonly id: string;
  readonly writeBuffer: readonly unknown[];
  readonly transport?: { readonly name?: string; readonly socket?: { readonly bufferedAmount?: number; terminate?(): void } };
  close(discard?: boolean): void;
}

function sizeOf(data: unknown): number {
  if (typeof data === "string") return Buffer.byteLength(data);
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/**
 * Outgoing backpressure: what the server holds unsent for one connection is bounded by
 * `limits.maxBufferedBytes`, over either transport. Engine.IO queues packets in its write
 * buffer while the transport is busy (a websocket whose peer stopped reading, a polling client
 * that does not poll); the bytes queued since the buffer was last flushed, plus the bytes the
 * websocket itself still holds, are counted as each packet is created. Past the bound the
 * connection is closed (and counted in `loly_slow_consumers_total`), so one client that never
 * reads cannot grow the server's memory.
 */
export class Backpressure {
  constructor(
    private readonly sessions: Sessions,
    private readonly maxBytes: number,
    private readonly metrics: ServerMetrics,
    private readonly logger: LolyLogger,
  ) {}

  /** A packet is being queued on a session (its `packetCreate` event, see `engineEventHook`). */
  packet(conn: EngineSession, packet: { data?: unknown }): void {
    const session = this.sessions.get(conn as never);
    if (session === undefined || session.slow) return;
    // An empty write buffer was just flushed: what is queued starts again from this packet.
    if (conn.writeBuffer.length === 0) session.unsent = 0;
    session.unsent += sizeOf(packet.data);
    if (session.unsent <= this.maxBytes && conn.writeBuffer.length === 0) return;
    const held = session.unsent + (conn.transport?.socket?.bufferedAmount ?? 0);
    if (held > this.maxBytes) {
      session.slow = true;
      this.closeSlow(conn, held, this.maxBytes);
    }
  }

  private closeSlow(conn: EngineSession, held: number, maxBytes: number): void {
    this.metrics.slowConsumers.inc();
    this.logger.warn(
      { component: "backpressure", sid: conn.id, transport: conn.transport?.name, bufferedBytes: held },
      `closing a connection that holds ${held} bytes unsent (limits.maxBufferedBytes ${maxBytes}): its client is not reading`,
    );
    // After the packet being created is queued: close the session, and drop what its websocket holds at once.
    queueMicrotask(() => {
      const ws = conn.transport?.socket;
      conn.close(true);
      ws?.terminate?.();
    });
  }
}
