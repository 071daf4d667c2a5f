/** Watchdog ticks per stale bound: a hang is seen 1 to 1 + 1/TICKS bounds after the oldest unanswered publish. */
const TICKS = 4;

/** What a {@link PublishGate} tells its owner. */
export interface GateEvents {
  /** Redis has left publishes unanswered for longer than the bound: broadcasts are held back from now on. */
  onClose(): void;
  /** Redis answers again: broadcasts are published again (not called when the gate opens because what it waited for failed). */
  onOpen(): void;
  /** Every tick of the watchdog (housekeeping that wants a timer). */
  onTick(): void;
}

/**
 * Holds back broadcasts while Redis hangs (stopped, or stuck in a long script, with its
 * connections open): a publish written to the socket then waits without an error, and every
 * broadcast after it would queue behind it. Per publish it costs two counter updates and no
 * clock read; a watchdog ticking every `staleAfterMs / 4` closes the gate when publishes are
 * pending and none has been answered for more than four ticks in a row (so an event loop that
 * was blocked for a while does not read as a hang), and the gate opens again as soon as Redis
 * answers one or the client reconnects, or once everything pending has failed (Redis is
 * unreachable: publishes fail at once, nothing queues).
 */
export class PublishGate {
  /** False while Redis hangs: broadcasts then reach this instance's sockets only. */
  open = true;
  private pending = 0;
  private answers = 0;
  private answersAtLastTick = 0;
  private quietTicks = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    staleAfterMs: number,
    private readonly events: GateEvents,
  ) {
    this.timer = setInterval(() => this.tick(), staleAfterMs / TICKS);
    this.timer.unref();
  }

  /** A publish was handed to the client. */
  sent(): void {
    this.pending++;
  }

  /** Redis answered a publish (a promise handler: bound once). */
  readonly answered = (): void => {
    this.answers++;
    this.settle(true);
  };

  /** A publish failed: it is no longer pending, but Redis did not answer it. */
  failed(): void {
    this.settle(false);
  }

  /** The client is ready again: what it held before is either sent again or failed, not waited for here. */
  reset(): void {
    this.pending = 0;
    this.quietTicks = 0;
    if (!this.open) this.reopen(true);
  }

  /** Stops the watchdog. */
  stop(): void {
    clearInterval(this.timer);
  }

  private settle(answered: boolean): void {
    if (this.pending > 0) this.pending--;
    if (!this.open && this.pending === 0) this.reopen(answered);
  }

  private tick(): void {
    this.events.onTick();
    const progress = this.answers !== this.answersAtLastTick;
    this.answersAtLastTick = this.answers;
    if (progress || this.pending === 0) {
      this.quietTicks = 0;
      if (!this.open) this.reopen(progress);
      return;
    }
    if (++this.quietTicks > TICKS && this.open) {
      this.open = false;
      this.events.onClose();
    }
  }

  private reopen(recovered: boolean): void {
    this.open = true;
    this.quietTicks = 0;
    if (recovered) this.events.onOpen();
  }
}
