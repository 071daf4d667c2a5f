import type { RecoverableSession } from "./types.js";

/** Sessions of a single instance: saved when a socket drops, kept `windowMs`, taken once. */
export class MemorySessions {
  private readonly sessions = new Map<string, { session: RecoverableSession; until: number }>();

  constructor(private readonly windowMs: number) {}

  /** A socket dropped: its session can be taken for `windowMs`. */
  save(session: RecoverableSession): void {
    const now = Date.now();
    this.sweep(now);
    this.sessions.delete(session.pid);
    this.sessions.set(session.pid, { session, until: now + this.windowMs });
  }

  /** Forgets the sessions whose window has passed: oldest first (a Map keeps insertion order, each lives windowMs). */
  sweep(now = Date.now()): void {
    for (const [pid, kept] of this.sessions) {
      if (kept.until >= now) break;
      this.sessions.delete(pid);
    }
  }

  /** The session of `pid`, once (a second recovery of the same session finds nothing). */
  take(pid: string): RecoverableSession | null {
    const kept = this.sessions.get(pid);
    this.sessions.delete(pid);
    return kept !== undefined && kept.until >= Date.now() ? kept.session : null;
  }
}
