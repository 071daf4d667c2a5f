import { randomBytes } from "node:crypto";
import type { Socket } from "socket.io";
import type { MemoryPacketLog } from "./memory-log.js";
import type { MemorySessions } from "./memory-sessions.js";
import type { PendingRestores } from "./adapter.js";
import type { LoggedPacket, RecoverableSession } from "./types.js";
import { wasFor } from "./types.js";

/** A recovery admitted by `auth`: what the socket gets back once connected. */
export interface Restore {
  readonly session: RecoverableSession;
  readonly offset: string;
}

/** The event that gives a new socket its first offset (so that it can recover before any broadcast reached it). */
export const OFFSET_EVENT = "__loly:offset";

/**
 * The server's side of connection-state recovery around admission: the adapter found a session
 * (`restoreSession`), `auth` ran again; here a recovery for the same user is claimed (or turned
 * into a fresh connection), and once the socket is connected its data, rooms and missed events
 * are given back, missed events first, before anything new.
 */
export class Recovery implements PendingRestores {
  private readonly pending = new Map<string, Restore & { at: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly log: MemoryPacketLog,
    sessions: MemorySessions,
    windowMs: number,
  ) {
    // What the window let go is freed even when nothing new comes (a quiet server keeps nothing).
    this.timer = setInterval(
      () => {
        const now = Date.now();
        log.sweep(now);
        sessions.sweep(now);
        for (const [pid, restore] of this.pending) if (restore.at < now - windowMs) this.pending.delete(pid);
      },
      Math.max(1000, Math.floor(windowMs / 4)),
    );
    this.timer.unref();
  }

  /** Stops the sweep (`rt.close()`). */
  close(): void {
    clearInterval(this.timer);
  }

  set(pid: string, restore: Restore): void {
    this.pending.set(pid, { ...restore, at: Date.now() });
  }

  /**
   * After `auth`: the restore of a recovered socket when its user is the session's; otherwise
   * the socket connects fresh (`socket.recovered` false, a new private session id).
   */
  claim(socket: Socket, userId: string | null): Restore | null {
    if (!socket.recovered) return null;
    const s = socket as unknown as { pid: string; recovered: boolean };
    const restore = this.pending.get(s.pid);
    this.pending.delete(s.pid);
    if (restore !== undefined && restore.session.userId === userId) return restore;
    // Another user on this session's id: a fresh connection (the client reads `recovered` from the pid).
    s.recovered = false;
    s.pid = randomBytes(15).toString("base64url");
    return null;
  }

  /** The offset a socket that received nothing yet would resume from. */
  position(nsp: string): string {
    return this.log.position(nsp);
  }

  /** What the restored socket missed, oldest first (`null`: the log no longer reaches back to it). */
  missed(nsp: string, restore: Restore): LoggedPacket[] | null {
    const packets = this.log.after(nsp, restore.offset);
    return packets === null ? null : packets.filter((p) => wasFor(restore.session.rooms, p));
  }
}
