/** A broadcast waiting for Redis to log and publish it. */
interface Pending {
  readonly at: number;
  readonly deliver: () => void;
  /** Settled: answered by Redis, or delivered here without it. */
  done: boolean;
}

/**
 * What keeps this instance's own sockets served while Redis does not answer, when its
 * broadcasts reach them through Redis (recovery: the log's order is everyone's order). A
 * broadcast Redis has not answered within `staleAfterMs` is delivered here without its offset,
 * at that deadline (its copy, if Redis ever publishes it, arrives stale and is dropped); one
 * whose publish failed is delivered here at once and counted as dropped (the other instances
 * never get it); one answered after the deadline but before the timer ran (a busy event loop)
 * is delivered here too, since its copy arrives stale. One timer for all of them, set to the
 * oldest one's deadline, armed only while some wait.
 */
export class LocalFallback {
  private readonly queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Past `staleAfterMs` by this margin, so that the copy Redis may still publish is surely stale on arrival. */
  private readonly limitMs: number;

  constructor(
    staleAfterMs: number,
    private readonly dropped: () => void,
  ) {
    this.limitMs = staleAfterMs + 50;
  }

  /** A broadcast sent to Redis; `deliver` gives it to this instance's sockets. */
  add(deliver: () => void): Pending {
    const entry: Pending = { at: Date.now(), deliver, done: false };
    this.queue.push(entry);
    if (this.timer === undefined) this.arm();
    return entry;
  }

  /** Redis logged and published it: its copy comes through the subscription, unless it is stale on arrival. */
  answered(entry: Pending): void {
    if (entry.done) return;
    entry.done = true;
    if (Date.now() - entry.at > this.limitMs) entry.deliver();
    this.shift();
  }

  /** Redis refused it: delivered here, and counted (no other instance gets it). */
  failed(entry: Pending): void {
    if (entry.done) return;
    entry.done = true;
    entry.deliver();
    this.dropped();
    this.shift();
  }

  /** Stops the timer (the adapter closes). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private shift(): void {
    while (this.queue.length > 0 && (this.queue[0] as Pending).done) this.queue.shift();
  }

  /** Runs `check` at the oldest waiting broadcast's deadline. */
  private arm(): void {
    const oldest = this.queue[0] as Pending;
    this.timer = setTimeout(() => this.check(), Math.max(1, oldest.at + this.limitMs - Date.now()));
    this.timer.unref();
  }

  private check(): void {
    this.timer = undefined;
    const now = Date.now();
    for (const entry of this.queue) {
      if (now - entry.at < this.limitMs) break;
      if (entry.done) continue;
      entry.done = true;
      entry.deliver();
    }
    this.shift();
    if (this.queue.length > 0) this.arm();
  }
}
