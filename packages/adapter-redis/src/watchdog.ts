import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";

/** The channels one namespace's adapter listens on (`@socket.io/redis-adapter`'s own fields). */
interface Subscribed {
  readonly channel: string;
  readonly requestChannel: string;
  readonly responseChannel: string;
  readonly specificResponseChannel: string;
}

/** How often the subscriber is probed; it is re-subscribed after three probes without an echo. */
const PROBE_MS = 1000;

/**
 * Keeps a Redis Cluster subscriber subscribed. ioredis moves a `Cluster`'s subscriber to
 * another node when its node goes, but when re-subscribing there fails (the cluster still
 * answers `CLUSTERDOWN` during a failover) it does not try again, and the instance silently
 * stops receiving broadcasts. Every second the publisher sends a probe on a channel of this
 * handle's own; when three probes in a row did not come back while the publisher works, every
 * adapter's channels (and the probe's) are subscribed again: subscribing twice is harmless.
 */
export class SubscriptionWatchdog {
  readonly adapters = new Set<Subscribed>();
  private readonly probe: string;
  private lastEcho = Date.now();
  private readonly timer: NodeJS.Timeout;
  private readonly onMessage: (channel: Buffer) => void;

  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    key: string,
    private readonly report: (err: unknown) => void,
    private readonly resubscribed: () => void,
  ) {
    this.probe = `${key}-probe#${randomBytes(6).toString("hex")}#`;
    this.onMessage = (channel) => {
      if (channel.toString() === this.probe) this.lastEcho = Date.now();
    };
    sub.on("messageBuffer", this.onMessage);
    sub.subscribe(this.probe).catch(report);
    this.timer = setInterval(() => this.tick(), PROBE_MS);
    this.timer.unref();
  }

  private tick(): void {
    this.pub.publish(this.probe, "1").then(() => {
      if (Date.now() - this.lastEcho <= 3 * PROBE_MS) return;
      this.lastEcho = Date.now();
      this.resubscribe();
    }, this.report);
  }

  private resubscribe(): void {
    const patterns = [...this.adapters].map((a) => `${a.channel}*`);
    const channels = [this.probe, ...[...this.adapters].flatMap((a) => [a.requestChannel, a.responseChannel, a.specificResponseChannel])];
    Promise.all([patterns.length > 0 ? this.sub.psubscribe(...patterns) : undefined, this.sub.subscribe(...channels)]).then(
      this.resubscribed,
      this.report,
    );
  }

  stop(): void {
    clearInterval(this.timer);
    this.sub.off("messageBuffer", this.onMessage);
  }
}
