import type { Socket } from "socket.io";
import type {
  LolyLogger,
  PresenceBackend,
  RateLimitBackend,
  RealtimeConfig,
  RealtimeStateStore,
  WssPresence,
  WssRequest,
} from "@loly-rt/core";
import type { ServerMetrics } from "./metrics.js";
import type { CompiledRoute } from "./pipeline.js";
import type { TokenBucket as LocalBucket } from "@loly-rt/ratelimit";

/** What every socket of one server shares. Built once at start-up. */
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
  /** Bounds a backend call by `scale.commandTimeoutMs` (UNAVAILABLE after). */
  bounded<T>(promise: Promise<T>, what: string): Promise<T>;
}

export const RECORD = Symbol("loly-rt.record");

/** Per-socket state of the pipeline, kept on the socket under {@link RECORD}. */
export class SocketRecord {
  /** Per-event buckets of `socket` scope, created on first use, by event index. */
  eventBuckets: Array<LocalBucket | undefined> | null = null;
  req: WssRequest | undefined = undefined;
  log: LolyLogger | undefined = undefined;
  private _presence: WssPresence | undefined = undefined;

  constructor(
    readonly socket: Socket,
    readonly route: CompiledRoute,
    readonly shared: SharedServices,
    readonly user: unknown,
    readonly userId: string | null,
    readonly ip: string,
    readonly params: Record<string, string>,
    /** The global bucket when `limits.scope` is `socket`. */
    readonly globalBucket: LocalBucket | null,
  ) {}

  presenceView(): WssPresence {
    if (this._presence === undefined) {
      const { presence } = this.shared;
      const ns = this.socket.nsp.name;
      const bounded = this.shared.bounded.bind(this.shared);
      this._presence = {
        users: (room?: string) => bounded(presence.users(ns, room), "presence.users"),
        socketsOf: (userId: string) => bounded(presence.socketsOf(ns, String(userId)), "presence.socketsOf"),
        isOnline: (userId: string) => bounded(presence.isOnline(ns, String(userId)), "presence.isOnline"),
      };
    }
    return this._presence;
  }
}
