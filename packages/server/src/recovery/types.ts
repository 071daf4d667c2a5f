import type { BroadcastOptions } from "socket.io-adapter";

/** A broadcast kept for recovery: its offset, whom it was for, and its arguments (the offset last). */
export interface LoggedPacket {
  readonly offset: string;
  readonly rooms: readonly string[];
  readonly except: readonly string[];
  readonly data: unknown[];
}

/** What a session keeps of a socket while it lives and after it dropped: enough to recover it anywhere. */
export interface RecoverableSession {
  /** The socket id, kept on recovery. */
  readonly sid: string;
  /** The private session id the client sends back (`auth.pid`). */
  readonly pid: string;
  readonly nsp: string;
  /** Every room of the socket (its own id and `user:<id>` included). */
  readonly rooms: readonly string[];
  /** The user id at the time (a recovery for another user is not one). */
  readonly userId: string | null;
  /** `socket.data` without `user` (the auth hook sets it again). */
  readonly data: Record<string, unknown>;
}

/** Whether a logged packet was for a socket in `rooms` (the rule of Socket.IO's own recovery). */
export function wasFor(rooms: readonly string[], packet: Pick<LoggedPacket, "rooms" | "except">): boolean {
  const included = packet.rooms.length === 0 || rooms.some((room) => packet.rooms.includes(room));
  return included && rooms.every((room) => !packet.except.includes(room));
}

/** Whether a broadcast is kept for recovery: an event without an ack, not volatile (Socket.IO's rule). */
export function isRecoverable(packet: { type: number; id?: number }, opts: BroadcastOptions): boolean {
  return packet.type === 2 && packet.id === undefined && opts.flags?.volatile === undefined;
}
