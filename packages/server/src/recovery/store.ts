import type { Socket } from "socket.io";
import type { LoggedPacket } from "./types.js";

/**
 * Where recovery keeps its log and sessions, seen from the server: in memory on one instance
 * (`memory-store.ts`), in Redis for a cluster (`@loly-rt/adapter-redis`'s recovery, wrapped in
 * `cluster-store.ts`). Socket.IO's adapter finds the dropped session (`restoreSession`); the
 * server then claims it after `auth` and gives back what the store holds.
 */
export interface RecoveryStore {
  /** The offset a socket of `nsp` that received nothing yet resumes from; `undefined` while not known. */
  position(nsp: string): string | undefined;
  /** What was broadcast in `nsp` after `offset`, oldest first; `null` when the log no longer reaches back to it. */
  after(nsp: string, offset: string): LoggedPacket[] | null | Promise<LoggedPacket[] | null>;
  /** A private session id for a socket that connects fresh; `undefined`: Socket.IO's own. */
  newPid?(): string;
  /**
   * Cluster stores: while a recovered socket catches up from the log, what arrives for it
   * live is held (`hold`), then given after the catch-up without what it already gave
   * (`release`, with the last offset the catch-up read).
   */
  hold?(socket: Socket): void;
  release?(socket: Socket, caughtUpTo: string): void;
  /** Cluster stores: keeps a connected socket's session while it lives (so it survives its instance). */
  track?(socket: Socket, userId: string | null): void;
  /** Frees what the window let go (called every quarter window). */
  sweep(now: number): void;
}
