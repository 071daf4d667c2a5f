import type { BroadcastOptions } from "socket.io-adapter";

/**
 * A broadcast kept for recovery (its offset, whom it was for, its arguments with the offset
 * last) and what a session keeps of a socket: the shapes `@loly-rt/adapter-redis` stores in a
 * cluster, which the in-memory log and sessions of one instance keep too.
 */
export type { LoggedBroadcast as LoggedPacket, StoredSession as RecoverableSession } from "@loly-rt/adapter-redis";
import type { LoggedBroadcast as LoggedPacket } from "@loly-rt/adapter-redis";

/** Whether a logged packet was for a socket in `rooms` (the rule of Socket.IO's own recovery). */
export function wasFor(rooms: readonly string[], packet: Pick<LoggedPacket, "rooms" | "except">): boolean {
  const included = packet.rooms.length === 0 || rooms.some((room) => packet.rooms.includes(room));
  return included && rooms.every((room) => !packet.except.includes(room));
}

/** Whether a broadcast is kept for recovery: an event without an ack, not volatile (Socket.IO's rule). */
export function isRecoverable(packet: { type: number; id?: number }, opts: BroadcastOptions): boolean {
  return packet.type === 2 && packet.id === undefined && opts.flags?.volatile === undefined;
}
