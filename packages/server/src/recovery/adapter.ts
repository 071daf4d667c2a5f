import { Adapter, type BroadcastOptions, type Session } from "socket.io-adapter";
import type { MemoryPacketLog } from "./memory-log.js";
import type { MemorySessions } from "./memory-sessions.js";
import { isRecoverable, type RecoverableSession } from "./types.js";

type Packet = Parameters<Adapter["broadcast"]>[0];

/** What the adapter hands over when Socket.IO asks it to restore a session: the rest is done after `auth`. */
export interface PendingRestores {
  set(pid: string, restore: { session: RecoverableSession; offset: string }): void;
}

/** A session as Socket.IO persists it, as recovery keeps it: with its namespace and user id, without `user`. */
/** What Socket.IO hands `persistSession` when a socket drops. */
export interface DroppedSession {
  sid: string;
  pid: string;
  rooms: Iterable<unknown>;
  data: unknown;
}

export function toRecoverable(session: DroppedSession, nsp: string, userIdOf: (user: unknown) => string | null): RecoverableSession {
  const { user, ...data } = (session.data ?? {}) as Record<string, unknown>;
  return { sid: session.sid, pid: session.pid, nsp, rooms: [...session.rooms].map(String), userId: userIdOf(user), data };
}

/**
 * The in-memory adapter of a single instance with Socket.IO's connection-state recovery
 * protocol: every recoverable broadcast gets an offset (its last argument, which
 * socket.io-client remembers) and is kept in the log; a socket that drops leaves its session.
 * When a client comes back with `{ pid, offset }`, the session is found here but nothing is
 * restored yet: rooms, data and missed events wait until `auth` has admitted the same user
 * (`recovery/restore.ts`), so a refused client recovers nothing.
 */
export function recoveringMemoryAdapter(
  log: MemoryPacketLog,
  sessions: MemorySessions,
  pending: PendingRestores,
  userIdOf: (user: unknown) => string | null,
): typeof Adapter {
  return class RecoveringMemoryAdapter extends Adapter {
    override broadcast(packet: Packet, opts: BroadcastOptions): void {
      if (isRecoverable(packet, opts)) {
        const data = packet.data as unknown[];
        data.push(log.append(this.nsp.name, [...opts.rooms].map(String), [...(opts.except ?? [])].map(String), data));
      }
      super.broadcast(packet, opts);
    }

    override persistSession(session: DroppedSession): void {
      sessions.save(toRecoverable(session, this.nsp.name, userIdOf));
    }

    override restoreSession(pid: string, offset: string): Promise<Session> {
      const session = sessions.take(pid);
      // Socket.IO takes a null session as "not recoverable" (its type says otherwise).
      if (session === null || session.nsp !== this.nsp.name || log.after(this.nsp.name, offset) === null)
        return Promise.resolve(null as unknown as Session);
      pending.set(pid, { session, offset });
      // Socket.IO gives the socket its old id; rooms, data and missed events come after auth.
      return Promise.resolve({ sid: session.sid, pid: session.pid, rooms: [], data: {}, missedPackets: [] } as unknown as Session);
    }
  };
}
