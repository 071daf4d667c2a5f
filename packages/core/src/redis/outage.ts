/**
 * What {@link createOutageReporter} calls. `Stage` says where a failure happened (`void` when
 * the caller has one place only). A callback that throws is swallowed: reporting a failure
 * never breaks the code that reports it.
 */
export interface OutageCallbacks<Stage = void> {
  /** The first failure of an outage: the first since the reporter was made or since the last `ok()`. */
  onFirst(err: unknown, stage: Stage): void;
  /**
   * Every later failure of the same outage.
   * @default nothing: the rest of the outage is silent
   */
  onRepeat?(err: unknown, stage: Stage): void;
  /**
   * The first success after an outage.
   * @default nothing
   */
  onRecover?(): void;
}

/** Tells an outage from its repeats; see {@link createOutageReporter}. */
export interface OutageReporter<Stage = void> {
  /** A call failed: `onFirst` when the outage starts here, else `onRepeat`. */
  fail(err: unknown, stage: Stage): void;
  /** A call succeeded: ends the outage (and calls `onRecover`) if there is one; else nothing. */
  ok(): void;
  /** True from a `fail()` until the next `ok()`. */
  readonly down: boolean;
}

/**
 * Once-per-outage reporting of background failures (heartbeats, reconnection attempts,
 * publishes, decisions): during an outage they come once per attempt, and a log wants the
 * first of them, maybe the rest at a lower level, and one line when the service is back.
 *
 * @example
 * const outage = createOutageReporter<string>({
 *   onFirst: (err, stage) => log.warn({ err, stage }, "Redis unreachable"),
 *   onRepeat: (err, stage) => log.debug({ err, stage }, "Redis error"),
 *   onRecover: () => log.info("Redis is back"),
 * });
 * redis.on("error", (err) => outage.fail(err, "reconnect"));
 * redis.on("ready", () => outage.ok());
 */
export function createOutageReporter<Stage = void>(callbacks: OutageCallbacks<Stage>): OutageReporter<Stage> {
  let down = false;
  return {
    get down(): boolean {
      return down;
    },
    fail(err: unknown, stage: Stage): void {
      const first = !down;
      down = true;
      try {
        if (first) callbacks.onFirst(err, stage);
        else callbacks.onRepeat?.(err, stage);
      } catch {
        // Swallowed on purpose: see OutageCallbacks.
      }
    },
    ok(): void {
      if (!down) return;
      down = false;
      try {
        callbacks.onRecover?.();
      } catch {
        // Swallowed on purpose: see OutageCallbacks.
      }
    },
  };
}
