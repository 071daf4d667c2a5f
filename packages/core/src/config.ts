import type { RateLimitScope } from "./ratelimit.js";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
export type Transport = "websocket" | "polling";

/** Where cross-instance fan-out goes in cluster mode. */
export interface AdapterConfig {
  type: "redis";
  /** Redis URL. @default process.env.REDIS_URL */
  url?: string;
}

/** Which store backs `ctx.state`. */
export interface StateStoreConfig {
  /** @default "memory" */
  type: "memory" | "redis";
  /** Redis URL (type "redis"). @default scale.adapter.url, then process.env.REDIS_URL */
  url?: string;
  /**
   * The cluster's name: every key the cluster writes (state, presence, connection counts,
   * limiter buckets) and the adapter's channels live under it.
   * @default "loly:"
   */
  prefix: string;
}

/**
 * The realtime configuration (`config` of `createRealtimeServer`). Every key has a default;
 * `createRealtimeServer` validates the merged result and fails start-up with one message that
 * lists every problem with its key path.
 */
export interface RealtimeConfig {
  /** @default true */
  enabled: boolean;
  /** HTTP path of the Socket.IO endpoint. @default "/wss" */
  path: string;
  /** @default ["websocket", "polling"] */
  transports: Transport[];
  /** @default 25000 */
  pingIntervalMs: number;
  /** @default 20000 */
  pingTimeoutMs: number;
  /** Largest accepted message (websocket frame or polling body). @default 65536 */
  maxPayloadBytes: number;
  /** Origins allowed to connect. @default "*" in development; required (a list) in production */
  allowedOrigins: "*" | string[];
  /** Read the client IP from `x-forwarded-for` (only behind your own proxy). @default false */
  trustProxy: boolean;
  scale: {
    /** @default "single" */
    mode: "single" | "cluster";
    /** Required in cluster mode. */
    adapter?: AdapterConfig;
    stateStore: StateStoreConfig;
    /** No store, limiter or presence call waits longer; then `UNAVAILABLE`. @default 3000 */
    commandTimeoutMs: number;
  };
  limits: {
    /** Open connections per client IP (cluster-wide in cluster mode). @default 20 */
    connectionsPerIp: number;
    /** Global bucket refill per second. @default 30 */
    eventsPerSecond: number;
    /** Global bucket capacity. @default 60 */
    burst: number;
    /** Who shares the global bucket. @default "socket" */
    scope: RateLimitScope;
    /** A cluster-wide limiter whose store is unreachable admits (`allow`) or refuses (`deny`). @default "allow" */
    onStoreError: "allow" | "deny";
  };
  presence: {
    /** Entries of an instance that stopped (even by SIGKILL) expire within this time. @default 15000 */
    ttlMs: number;
  };
  logging: {
    /** @default "info" */
    level: LogLevel;
    /** Human-readable lines (needs `pino-pretty`). @default true in development, false in production */
    pretty?: boolean;
  };
  metrics: {
    /** @default true */
    enabled: boolean;
    /** @default "/metrics" */
    path: string;
  };
  /** A handler that has not settled after this long answers `INTERNAL` and is let go. 0 = never. @default 30000 */
  handlerTimeoutMs: number;
}

/** Recursive partial: what users pass as `config`. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** The `config` option of `createRealtimeServer`: any subset of {@link RealtimeConfig}. */
export type RealtimeConfigInput = DeepPartial<RealtimeConfig>;
