import { LolyError } from "@loly-rt/core";
import type { Redis } from "ioredis";
import { RedisClock } from "./clock.js";
import { PublishGate } from "./gate.js";

/**
 * Why a broadcast was dropped: `"publish"`, this instance did not publish it (Redis had left a
 * publish unanswered for longer than `staleAfterMs`); `"stale"`, it
 * reached this instance from another one more than `staleAfterMs` after it was sent.
 */
export type RedisAdapterDropReason = "publish" | "stale";

/** How often each instance samples Redis's clock again once it has a sample. */
const CLOCK_RESYNC_MS = 30_000;

/** What every namespace's adapter of one handle shares to keep broadcasts fresh. */
export interface Freshness {
  readonly gate: PublishGate;
  readonly clock: RedisClock;
  readonly staleAfterMs: number;
  /** Counts one dropped broadcast. */
  dropped(reason: RedisAdapterDropReason): void;
  /** Handlers of the publisher's fire-and-forget publishes (see `guarded`). */
  readonly publishes: PublishHooks;
  /** Stops the watchdog and detaches from the publisher. */
  stop(): void;
}

/** What `guarded` calls around each publish. */
export interface PublishHooks {
  sent(): void;
  answered(): void;
  failed(err: unknown): void;
}

export interface FreshnessOptions {
  pubClient: Redis;
  staleAfterMs: number;
  onDrop: ((reason: RedisAdapterDropReason) => void) | undefined;
  /** The publisher's error reporter (a hang is reported as an `UNAVAILABLE` error). */
  report(err: unknown): void;
  /** The publisher is healthy again (ends the outage `report` started). */
  recovered(): void;
}

/**
 * The gate that stops publishing while Redis hangs and the clock that dates broadcasts, wired
 * to the publisher: a hang is reported once, a clock sample is taken at each `ready` and every
 * {@link CLOCK_RESYNC_MS} after.
 */
export function createFreshness(o: FreshnessOptions): Freshness {
  const { pubClient, staleAfterMs, onDrop, report } = o;
  const clock = new RedisClock(staleAfterMs / 4);
  const dropped = (reason: RedisAdapterDropReason): void => {
    try {
      onDrop?.(reason);
    } catch {
      // A counter that throws must not break the broadcast that called it.
    }
  };
  const gate = new PublishGate(staleAfterMs, {
    onClose: () =>
      report(
        new LolyError(
          "UNAVAILABLE",
          `Redis has left a publish unanswered for more than ${staleAfterMs} ms: broadcasts to other instances are dropped (and counted) until it answers`,
        ),
      ),
    onOpen: o.recovered,
    onTick: () => {
      if (pubClient.status === "ready") clock.sync(pubClient, CLOCK_RESYNC_MS, report);
    },
  });
  const onReady = (): void => {
    gate.reset();
    clock.sync(pubClient, 0, report);
  };
  pubClient.on("ready", onReady);
  if (pubClient.status === "ready") clock.sync(pubClient, 0, report);
  return {
    gate,
    clock,
    staleAfterMs,
    dropped,
    publishes: {
      sent: () => gate.sent(),
      answered: gate.answered,
      // Not counted as a drop: a publish that timed out may still reach Redis, and then its
      // receivers drop it as stale (counted there); one lost with its connection is an error.
      failed: (err: unknown): void => {
        gate.failed();
        report(err);
      },
    },
    stop: () => {
      gate.stop();
      pubClient.off("ready", onReady);
    },
  };
}
