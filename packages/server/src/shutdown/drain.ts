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
 * The drain of `rt.close()` (SPEC section 10), after admission has stopped: the connections are
 * closed at the transport level, spread evenly over `shutdown.drainMs`, so a stock
 * socket.io-client reconnects by itself (to another instance behind a load balancer) and the
 * clients do not all come back at once. At a connection's turn, events it sends from then on
 * are refused (`UNAVAILABLE`: not run, answered at once, so the client can send them again
 * once reconnected) and those already running finish and have their acks written first, for
 * at most `shutdown.graceMs`: every connection gets the same margin, however busy the others.
 * Until its turn a connection is served as usual.
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

  /** Closes every session of `targets` over `drainMs`, each once what it has in flight is answered. */
  async run(targets: DrainTargets): Promise<void> {
    this.begin();
    const { graceMs, drainMs } = this.config.shutdown;
    const sessions = targets.sessions();
    const step = sessions.length > 1 ? drainMs / sessions.length : 0;
    const started = performance.now();
    let unfinished = 0;
    await Promise.all(
      sessions.map(async ({ session, records }, i) => {
        const wait = started + i * step - performance.now();
        if (wait > 0) await sleep(wait);
        for (const rec of records) rec.closing = true;
        const graceEnd = performance.now() + graceMs;
        while (inFlightOf(records) > 0 && performance.now() < graceEnd) await sleep(POLL_MS);
        unfinished += inFlightOf(records);
        // Not discarded: what is queued for it (acks included) is written first.
        session.close();
      }),
    );
    if (unfinished > 0)
      this.logger.warn(
        { component: "close", inFlight: unfinished },
        `close: ${unfinished} event step(s) still in flight after shutdown.graceMs (${graceMs} ms) on their connection; closed anyway`,
      );
  }
}
