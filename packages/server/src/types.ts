import type { Server as HttpServer } from "node:http";
import type { AnyWssRoute, LolyLogger, RealtimeConfig, RealtimeConfigInput, RealtimeStateStore } from "@loly-rt/core";
import type { Registry } from "prom-client";
import type { Server, ServerOptions } from "socket.io";

/** Options of {@link createRealtimeServer}. */
export interface RealtimeServerOptions {
  /** Any subset of the configuration; the rest takes its defaults. */
  config?: RealtimeConfigInput;
  /** Routes by namespace pattern (`"/chat"`, `"/rooms/[id]"`). */
  routes?: Record<string, AnyWssRoute>;
  /** A folder of `**\/events.{ts,mts,js,mjs}` route files: folder path = namespace. */
  routesDir?: string;
  /** Attach to your own HTTP server instead of creating one. */
  httpServer?: HttpServer;
  /** Your own state store (bounded by `scale.commandTimeoutMs`). */
  stateStore?: RealtimeStateStore;
  /** Your own pino (or pino-shaped) logger. */
  logger?: LolyLogger;
  /**
   * Options passed to Socket.IO's `Server` (`parser`, `wsEngine`, `perMessageDeflate`,
   * `httpCompression`, `cleanupEmptyChildNamespaces`, ...). Those Loly sets itself (`path`,
   * `transports`, `pingInterval`, `pingTimeout`, `maxHttpBufferSize`, `cors`, `allowRequest`,
   * `adapter`, `connectionStateRecovery`, `connectTimeout`) fail start-up with
   * `INVALID_CONFIG` naming the Loly setting to use. A custom `parser` keeps Loly's size cap.
   */
  io?: Partial<ServerOptions>;
}

/** A running realtime server. */
export interface RealtimeServer {
  /** The Socket.IO server. */
  readonly io: Server;
  /** The state store handlers see as `ctx.state`. */
  readonly state: RealtimeStateStore;
  /** The prom-client registry of this server. */
  readonly metrics: Registry;
  /** The HTTP server Socket.IO (and `/metrics`, unless `metrics.port` is set) are attached to. */
  readonly httpServer: HttpServer;
  /** The metrics listener of its own, when `metrics.port` is set (already listening). */
  readonly metricsServer: HttpServer | undefined;
  /** The resolved configuration. */
  readonly config: RealtimeConfig;
  /** The server's logger. */
  readonly logger: LolyLogger;
  /** Listens on `port` (0 = any free port); resolves with the bound port. */
  listen(port?: number, host?: string): Promise<number>;
  /**
   * Disconnects every socket of `userId`, in every namespace (dynamic ones included), on
   * every instance. Resolves once this instance's sockets are gone and the other instances
   * were told (cluster mode).
   */
  disconnectUser(userId: string): Promise<void>;
  /**
   * Re-runs the route's `auth` hook for connected sockets (every socket, or those matching
   * `filter`) on every instance, with each socket's original handshake. A socket stays only
   * when the hook returns the same user (same id, same JSON) as at connect time; otherwise
   * (the hook throws, returns another user, or none where there was one) it gets
   * `__loly:error` `UNAUTHORIZED` and is disconnected. A hook that fails with `UNAVAILABLE`
   * or does not answer within `handlerTimeoutMs` leaves the socket connected (counted in
   * `failed`). Use it after revoking a session or token: the hook sees the revocation.
   *
   * @example
   * await db.revokeSession(sessionId);
   * const { disconnected } = await rt.revalidate({ userId: "42" });
   */
  revalidate(filter?: RevalidateFilter): Promise<RevalidateResult>;
  /** Health of the parts (Redis connections in cluster mode). */
  health(): { ok: boolean; details: Record<string, string> };
  /** Graceful stop: disconnect hooks run, presence cleaned, Redis clients closed. Idempotent. */
  close(): Promise<void>;
}

/** Which sockets {@link RealtimeServer.revalidate} re-checks (all given keys must match). */
export interface RevalidateFilter {
  /** Only the sockets of this user. */
  userId?: string;
  /** Only sockets of this namespace: a concrete name (`"/rooms/42"`) or a route pattern (`"/rooms/[id]"`). */
  namespace?: string;
}

/** What {@link RealtimeServer.revalidate} did, summed over the instances that answered. */
export interface RevalidateResult {
  /** Instances whose sockets are counted (this one included). */
  instances: number;
  /** Sockets whose auth hook ran. */
  checked: number;
  /** Sockets disconnected because the hook refused them or returned another user. */
  disconnected: number;
  /** Sockets left connected because the hook was unavailable or too slow. */
  failed: number;
}
