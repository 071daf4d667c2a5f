import type { Redis } from "ioredis";

/**
 * Redis's clock as this process reads it: the offset between Redis's `TIME` and the local
 * monotonic clock (`performance.now()`), sampled once per connection and then every so often.
 * Instances stamp and judge broadcasts on this one clock, so the hosts' own clocks may
 * disagree by seconds without fresh broadcasts being dropped or stale ones let through; the
 * error is half the round trip of the sample, and a sample whose round trip exceeds
 * `maxRttMs` is not used.
 */
export class RedisClock {
  private offset: number | undefined;
  private syncing = false;
  private syncedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly maxRttMs: number) {}

  /** Milliseconds on Redis's clock; `undefined` until a first usable sample. */
  now(): number | undefined {
    return this.offset === undefined ? undefined : performance.now() + this.offset;
  }

  /**
   * Samples Redis's clock with `TIME` unless a sample is under way or the last usable one is
   * younger than `everyMs`. Never rejects: a failed sample goes to `report`.
   */
  sync(client: Redis, everyMs: number, report: (err: unknown) => void): void {
    const started = performance.now();
    if (this.syncing || started - this.syncedAt < everyMs) return;
    this.syncing = true;
    client.time().then(
      ([seconds, micros]) => {
        this.syncing = false;
        const ended = performance.now();
        if (ended - started > this.maxRttMs) return;
        this.offset = Number(seconds) * 1000 + Number(micros) / 1000 - (started + ended) / 2;
        this.syncedAt = ended;
      },
      (err: unknown) => {
        this.syncing = false;
        report(err);
      },
    );
  }
}
