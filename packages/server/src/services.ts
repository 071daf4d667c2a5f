import type { LolyLogger, PresenceBackend, RateLimitBackend, RealtimeConfig, RealtimeStateStore } from "@loly-rt/core";
import type { ServerMetrics } from "./metrics.js";

/** What every socket of one server shares. Built once at start-up (`createRealtimeServer`). */
export interface SharedServices {
  readonly config: RealtimeConfig;
  readonly production: boolean;
  readonly logger: LolyLogger;
  /** `ctx.state`: bounded by `scale.commandTimeoutMs` when it does I/O. */
  readonly state: RealtimeStateStore;
  readonly presence: PresenceBackend;
  readonly metrics: ServerMetrics;
  /** Backend of `ip`/`user` scoped buckets (in process for one instance, Redis in a cluster). */
  readonly sharedLimiter: RateLimitBackend;
  /** The recovery offset a socket of `nsp` is at now, when connection-state recovery is on. */
  readonly recoveryPosition?: ((nsp: string) => string | undefined) | undefined;
  /** Bounds a backend call by `scale.commandTimeoutMs` (UNAVAILABLE after); see `backends/bounded.ts`. */
  bounded<T>(promise: Promise<T>, what: string): Promise<T>;
}
