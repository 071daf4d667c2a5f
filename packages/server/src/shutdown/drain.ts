import type { LolyLogger, RealtimeConfig } from "@loly-rt/core";
import type { SocketRecord } from "../socket/record.js";

/** What a drain closes: an Engine.IO session (socket.io's `socket.conn`). */
export interface DrainedSession {
  close(discard?: boolean): void;
}

/** An open session and the records of the sockets it carries. */
export interface DrainTarget {
  readonly session: DrainedSession;
  readonly records: readonly SocketRecord[];
}

/** What a drain works through: every record (for the grace period), then every open session with its records. */
export interface DrainTargets {
  records(): Iterable<SocketRecord>;
  sessions(): DrainTarget[];
}

const inFlightOf = (records: Iterable<SocketRecord>): number => {
  let n = 0;
  for (const rec of records) n += rec.inFlight;
  return n;
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const POLL_MS = 20;

/**
 * The drain of `rt.close()` (SPEC section 10), after admission has stopped: events in flight
 * finish and their acks are written (at most `shutdown.graceMs`), then the connections are
 * closed at the transport level, spread evenly over `shutdown.drainMs`, so a stock
 * socket.io-client reconnects by itself (to another instance behind a load balancer) and the
 * clients do not all come back at once. A connection whose sockets still have events in flight
 * at its turn waits for them, until the grace period's end.
 */
export class Drain {
  private started = false;

  constructor(
    private readonly config: RealtimeConfig,
    private readonly logger: LolyLogger,
  ) {}

  /** True once the drain started (`rt.health()` reports it; admission refuses). */
  get draining(): boolean {
    return this.started;
  }

  /** Marks the server draining: from now on admission refuses new sessions and namespaces. */
  begin(): void {
    this.started = true;
  }

  /** Waits for in-flight events, then closes every session of `targets` over `drainMs`. */
  async run(targets: DrainTargets): Promise<void> {
    this.begin();
    const { graceMs, drainMs } = this.config.shutdown;
    const graceEnd = performance.now() + graceMs;
    while (inFlightOf(targets.records()) > 0 && performance.now() < graceEnd) await sleep(POLL_MS);
    const left = inFlightOf(targets.records());
    if (left > 0)
      this.logger.warn(
        { component: "close", inFlight: left },
        `close: ${left} event step(s) still in flight after shutdown.graceMs (${graceMs} ms); closing anyway`,
      );

    const sessions = targets.sessions();
    const step = sessions.length > 1 ? drainMs / sessions.length : 0;
    const started = performance.now();
    const lastCall = Math.max(graceEnd, started) + drainMs;
    for (let i = 0; i < sessions.length; i++) {
      const { session, records } = sessions[i] as DrainTarget;
      const wait = started + i * step - performance.now();
      if (wait > 0) await sleep(wait);
      // Events that arrived meanwhile on this connection are answered before it closes.
      while (inFlightOf(records) > 0 && performance.now() < lastCall) await sleep(POLL_MS);
      // Not discarded: what is queued for it (acks included) is written first.
      session.close();
    }
  }
}
