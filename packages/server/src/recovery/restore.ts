import { randomBytes } from "node:crypto";
import type { LolyLogger } from "@loly-rt/core";
import type { Socket } from "socket.io";
import type { PendingRestores } from "./adapter.js";
import type { RecoveryStore } from "./store.js";
import type { LoggedPacket, RecoverableSession } from "./types.js";
import { wasFor } from "./types.js";

/** A recovery admitted by `auth`: what the socket gets back once connected. */
export interface Restore {
  readonly session: RecoverableSession;
  readonly offset: string;
}

/** The event that gives a new socket its first offset (so that it can recover before any broadcast reached it). */
export const OFFSET_EVENT = "__loly:offset";

/** What a connected socket's `packet` takes (Socket.IO's own, protected). */
type RawPacketSocket = { packet(packet: { type: number; data: unknown[] }): void };

/**
 * The server's side of connection-state recovery around admission: the adapter found a session
 * (`restoreSession`), `auth` ran again; here a recovery for the same user is claimed (or turned
 * into a fresh connection), and once the socket is connected its data, rooms and missed events
 * are given back, missed events before anything new.
 */
export class Recovery implements PendingRestores {
  private readonly pending = new Map<string, Restore & { at: number }>();
  private readonly timer: NodeJS.Timeout;
  private store: RecoveryStore | undefined;

  constructor(
    windowMs: number,
    private readonly logger: LolyLogger,
  ) {
    // What the window let go is freed even when nothing new comes (a quiet server keeps nothing).
    this.timer = setInterval(
      () => {
        const now = Date.now();
        this.store?.sweep(now);
        for (const [pid, restore] of this.pending) if (restore.at < now - windowMs) this.pending.delete(pid);
      },
      Math.max(1000, Math.floor(windowMs / 4)),
    );
    this.timer.unref();
  }

  /** Sets where the log and sessions are (once the backends are built). */
  use(store: RecoveryStore): void {
    this.store = store;
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
    const s = socket as unknown as { pid: string; recovered: boolean };
    if (socket.recovered) {
      const restore = this.pending.get(s.pid);
      this.pending.delete(s.pid);
      if (restore !== undefined && restore.session.userId === userId) return restore;
      // Another user on this session's id: a fresh connection (the client reads `recovered` from the pid).
      s.recovered = false;
      s.pid = this.store?.newPid?.() ?? randomBytes(15).toString("base64url");
    } else if (this.store?.newPid) {
      s.pid = this.store.newPid();
    }
    return null;
  }

  /** The offset a socket that received nothing yet would resume from (`undefined` while not known). */
  position(nsp: string): string | undefined {
    return this.store?.position(nsp);
  }

  /** Whether catching up waits on the store (cluster): missed events then come after the connection. */
  get async(): boolean {
    return this.store?.hold !== undefined;
  }

  /** Keeps a connected socket's session, where the store needs it while the socket lives. */
  track(socket: Socket, userId: string | null): void {
    this.store?.track?.(socket, userId);
  }

  /** What the restored socket missed, oldest first (`null`: the log no longer reaches back to it), for a memory store. */
  missedNow(nsp: string, restore: Restore): LoggedPacket[] | null {
    const packets = this.store?.after(nsp, restore.offset) ?? null;
    if (packets instanceof Promise) throw new TypeError("missedNow on an asynchronous recovery store");
    return packets === null ? null : packets.filter((p) => wasFor(restore.session.rooms, p));
  }

  /**
   * A cluster catch-up: what comes live for the socket is held, its rooms are given back
   * (`rejoin`), its missed events are read from the log and sent, then what was held is given
   * without what the log already gave. Every missed event in order, exactly once, before new ones.
   */
  async catchUp(socket: Socket, restore: Restore, rejoin: () => void): Promise<void> {
    const store = this.store;
    if (store?.hold === undefined || store.release === undefined) return;
    store.hold(socket);
    let last = restore.offset;
    try {
      rejoin();
      const packets = await store.after(socket.nsp.name, restore.offset);
      if (packets === null) {
        this.logger.warn(
          { namespace: socket.nsp.name, socketId: socket.id },
          "recovery log trimmed while the socket was recovering: its missed events are lost",
        );
      } else {
        for (const packet of packets) {
          last = packet.offset;
          if (socket.connected && wasFor(restore.session.rooms, packet))
            (socket as unknown as RawPacketSocket).packet({ type: 2, data: packet.data });
        }
      }
    } catch (err) {
      this.logger.warn(
        { namespace: socket.nsp.name, socketId: socket.id, err: { message: err instanceof Error ? err.message : String(err) } },
        "recovery log unreachable: the socket's missed events are lost",
      );
    } finally {
      store.release(socket, last);
    }
  }
}
