import { randomBytes } from "node:crypto";
import type { LoggedPacket } from "./types.js";

/** One namespace's kept broadcasts, oldest first. */
interface Log {
  packets: Array<LoggedPacket & { at: number; seq: number }>;
  /** Sequence of the last packet appended (0: none yet). */
  seq: number;
  /** Sequence of the last packet dropped (by age or count): an offset at or before it cannot be resumed. */
  dropped: number;
  /** When its position was last given out or appended to. */
  lastAt: number;
}

/**
 * The broadcasts of a single instance, per namespace, for recovery: kept `windowMs` and at most
 * `maxEvents` per namespace (the oldest go first). An offset is `<run>.<sequence>`: an offset of
 * another run of the process (a restart) or one that was dropped resumes nothing.
 */
export class MemoryPacketLog {
  private readonly logs = new Map<string, Log>();
  private readonly run = randomBytes(4).toString("hex");

  constructor(
    private readonly windowMs: number,
    private readonly maxEvents: number,
  ) {}

  private log(nsp: string): Log {
    let log = this.logs.get(nsp);
    if (log === undefined) {
      log = { packets: [], seq: 0, dropped: 0, lastAt: Date.now() };
      this.logs.set(nsp, log);
    }
    return log;
  }

  /** The offset a client resumes from when it has received nothing yet (the log's end). */
  position(nsp: string): string {
    const log = this.log(nsp);
    log.lastAt = Date.now();
    return `${this.run}.${log.seq}`;
  }

  /** Keeps a broadcast; returns its offset (appended to its arguments by the caller). */
  append(nsp: string, rooms: readonly string[], except: readonly string[], data: unknown[]): string {
    const log = this.log(nsp);
    const seq = ++log.seq;
    const offset = `${this.run}.${seq}`;
    const now = Date.now();
    log.lastAt = now;
    log.packets.push({ offset, rooms, except, data, at: now, seq });
    this.trim(log, now);
    return offset;
  }

  /**
   * The packets after `offset`, oldest first, or `null` when that offset cannot be resumed
   * (another run, never given, or already dropped).
   */
  after(nsp: string, offset: string): LoggedPacket[] | null {
    const dot = offset.lastIndexOf(".");
    if (offset.slice(0, dot) !== this.run) return null;
    const seq = Number(offset.slice(dot + 1));
    const log = this.logs.get(nsp) ?? { packets: [], seq: 0, dropped: 0, lastAt: 0 };
    if (!Number.isInteger(seq) || seq < log.dropped || seq > log.seq) return null;
    this.trim(log, Date.now());
    if (seq < log.dropped) return null;
    return log.packets.filter((p) => p.seq > seq);
  }

  /** How many namespaces have a log (what a sweep frees). */
  get namespaces(): number {
    return this.logs.size;
  }

  /**
   * Drops what is older than the window in every namespace, and the namespaces left empty and
   * idle for a window: an offset into a forgotten log resumes with nothing missed, which holds
   * because a session lives one window and anything it could have missed would still be here.
   */
  sweep(now = Date.now()): void {
    for (const [nsp, log] of this.logs) {
      this.trim(log, now);
      // An empty log keeps its place only while an offset into it may still be resumed.
      if (log.packets.length === 0 && log.lastAt < now - this.windowMs) this.logs.delete(nsp);
    }
  }

  private trim(log: Log, now: number): void {
    const oldest = now - this.windowMs;
    let cut = 0;
    while (cut < log.packets.length && ((log.packets[cut] as { at: number }).at < oldest || log.packets.length - cut > this.maxEvents))
      cut++;
    if (cut === 0) return;
    log.dropped = (log.packets[cut - 1] as { seq: number }).seq;
    log.packets.splice(0, cut);
  }
}
