import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type Namespace, type ServerOptions, type Socket } from "socket.io";
import {
  LolyError,
  assertWssRouteDefinition,
  isWssRoute,
  withTimeout,
  type AnyWssRoute,
  type AuthContext,
  type LolyLogger,
  type RealtimeConfig,
  type RealtimeConfigInput,
  type RealtimeStateStore,
  type WssHandshake,
  type WssSocket,
} from "@loly-rt/core";
import type { Registry } from "prom-client";
import { resolveConfig } from "./config.js";
import { createComponents, type Components } from "./components.js";
import { userRoom, requestOf, socketLogger } from "./context.js";
import { loadRoutesDir } from "./loader.js";
import { createLogger } from "./logging.js";
import { createServerMetrics, type ServerMetrics } from "./metrics.js";
import { compileNamespace } from "./namespace.js";
import { clientIp, originAllowed } from "./net.js";
import { attachPipeline, compileRoute, globalBucketFor, runHook, type CompiledRoute } from "./pipeline.js";
import { RECORD, SocketRecord, type SharedServices } from "./record.js";

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
}

/** A running realtime server. */
export interface RealtimeServer {
  /** The Socket.IO server. */
  readonly io: Server;
  /** The state store handlers see as `ctx.state`. */
  readonly state: RealtimeStateStore;
  /** The prom-client registry of this server. */
  readonly metrics: Registry;
  /** The HTTP server Socket.IO (and `/metrics`) are attached to. */
  readonly httpServer: HttpServer;
  /** The resolved configuration. */
  readonly config: RealtimeConfig;
  /** The server's logger. */
  readonly logger: LolyLogger;
  /** Listens on `port` (0 = any free port); resolves with the bound port. */
  listen(port?: number, host?: string): Promise<number>;
  /** Disconnects every socket of `userId` on every instance. Resolves when sent. */
  disconnectUser(userId: string): Promise<void>;
  /** Health of the parts (Redis connections in cluster mode). */
  health(): { ok: boolean; details: Record<string, string> };
  /** Graceful stop: disconnect hooks run, presence cleaned, Redis clients closed. Idempotent. */
  close(): Promise<void>;
}

const CONN_ADMIT = Symbol("loly-rt.admit");
const CONN_IP = Symbol("loly-rt.ip");

interface EngineConn {
  request: IncomingMessage;
  close(): void;
  on(event: "close", fn: () => void): void;
  [CONN_ADMIT]?: Promise<boolean> | boolean;
  [CONN_IP]?: string;
}

function connectError(code: string): Error & { data?: unknown } {
  const err = new Error(code) as Error & { data?: unknown };
  err.data = { code };
  return err;
}

function userIdOf(user: unknown): string | null {
  if (typeof user === "string" && user.length > 0) return user;
  if (typeof user === "number" && Number.isFinite(user)) return String(user);
  if (typeof user === "object" && user !== null) {
    const id = (user as { id?: unknown }).id;
    if ((typeof id === "string" && id.length > 0) || (typeof id === "number" && Number.isFinite(id))) return String(id);
  }
  return null;
}

/**
 * Creates a realtime server: validates the config, loads the routes, assembles state,
 * presence, limits, logs and metrics (in process, or over Redis in cluster mode) and
 * attaches Socket.IO to an HTTP server.
 *
 * @example
 * const rt = await createRealtimeServer({ routes: { "/chat": chatRoute } });
 * const port = await rt.listen(3000);
 */
export async function createRealtimeServer(options: RealtimeServerOptions = {}): Promise<RealtimeServer> {
  const { config, warnings, production } = resolveConfig(options.config, { NODE_ENV: process.env.NODE_ENV });
  const logger = options.logger ?? (await createLogger(config));
  for (const w of warnings) logger.warn({ component: "config" }, w);

  // Routes: from code and from files; every problem fails start-up here.
  const routeList: Array<{ pattern: string; route: AnyWssRoute; file?: string }> = [];
  for (const [pattern, route] of Object.entries(options.routes ?? {})) {
    if (!isWssRoute(route)) {
      throw new LolyError("INVALID_ROUTE", `routes["${pattern}"]: expected a route from defineWssRoute({...})`);
    }
    assertWssRouteDefinition(route, `routes["${pattern}"]`);
    routeList.push({ pattern, route });
  }
  if (options.routesDir) {
    for (const r of await loadRoutesDir(options.routesDir)) routeList.push({ pattern: r.namespace, route: r.route, file: r.file });
  }
  const seen = new Set<string>();
  for (const r of routeList) {
    if (seen.has(r.pattern)) throw new LolyError("INVALID_ROUTE", `two routes for namespace "${r.pattern}"${r.file ? ` (${r.file})` : ""}`);
    seen.add(r.pattern);
  }

  const metrics = createServerMetrics();
  const components = await createComponents(config, { stateStore: options.stateStore, logger, metrics });

  const shared: SharedServices = {
    config,
    production,
    logger,
    state: components.state,
    presence: components.presence,
    metrics,
    sharedLimiter: components.sharedLimiter,
    bounded: (p, what) => withTimeout(p, config.scale.commandTimeoutMs, what),
  };

  const ownsHttp = !options.httpServer;
  const httpServer = options.httpServer ?? createServer();
  const metricsHandler = config.metrics.enabled ? installMetricsEndpoint(httpServer, config, metrics, ownsHttp) : null;

  const allowed: "*" | ReadonlySet<string> =
    config.allowedOrigins === "*" ? "*" : new Set(config.allowedOrigins.map((o) => o.toLowerCase()));
  const ioOptions: Partial<ServerOptions> = {
    path: config.path,
    transports: config.transports,
    pingInterval: config.pingIntervalMs,
    pingTimeout: config.pingTimeoutMs,
    maxHttpBufferSize: config.maxPayloadBytes,
    serveClient: false,
    cors:
      allowed === "*"
        ? { origin: "*", credentials: false }
        : { origin: [...config.allowedOrigins], credentials: true, methods: ["GET", "POST"] },
  };
  // enabled: false builds everything but attaches no endpoint to the HTTP server.
  const io = config.enabled ? new Server(httpServer, ioOptions) : new Server(ioOptions);
  if (components.adapter) io.adapter(components.adapter as never);

  // Per-IP connection limit, counted per Engine.IO connection (the thing that costs).
  const limit = config.limits.connectionsPerIp;
  io.engine?.on("connection", (conn: EngineConn) => {
    const ip = clientIp(conn.request, config.trustProxy);
    conn[CONN_IP] = ip;
    const admitted = components.counter.acquire(ip, limit);
    const settle = (ok: boolean): boolean => {
      if (ok) conn.on("close", () => void Promise.resolve(components.counter.release(ip)).catch(() => undefined));
      return ok;
    };
    conn[CONN_ADMIT] =
      typeof admitted === "boolean"
        ? settle(admitted)
        : withTimeout(admitted, config.scale.commandTimeoutMs, "connection count").then(settle, (err: unknown) => {
            logger.warn({ err: { message: err instanceof Error ? err.message : String(err) }, component: "connections" }, "per-IP count unavailable");
            // Same policy as cluster-wide limiters when the store is unreachable.
            return config.limits.onStoreError === "allow";
          });
  });

  const records = new Set<SocketRecord>();
  const pendingHooks = new Set<Promise<void>>();
  const track = (p: Promise<void>): void => {
    pendingHooks.add(p);
    void p.finally(() => pendingHooks.delete(p));
  };

  const compiled: CompiledRoute[] = [];
  for (const { pattern, route } of routeList) {
    const ns = compileNamespace(pattern);
    const croute = compileRoute(pattern, route, shared);
    compiled.push(croute);
    const nsp = (ns.dynamic && ns.regex ? io.of(ns.regex) : io.of(pattern)) as unknown as Namespace;
    setupNamespace(nsp, ns.match.bind(ns), croute);
  }

  function setupNamespace(nsp: Namespace, match: (name: string) => Record<string, string> | null, route: CompiledRoute): void {
    nsp.use((socket, next) => {
      admit(socket, match, route).then(
        () => next(),
        (err: unknown) => {
          const code = err instanceof Error ? err.message : "UNAUTHORIZED";
          metrics.refusedConnections.labels(route.pattern, code).inc();
          next(connectError(code));
        },
      );
    });
    nsp.on("connection", (socket: Socket) => {
      const rec = (socket as unknown as Record<symbol, SocketRecord | undefined>)[RECORD];
      if (!rec) {
        socket.disconnect(true);
        return;
      }
      records.add(rec);
      metrics.connections.labels(route.pattern).inc();
      metrics.connectionsTotal.labels(route.pattern).inc();
      attachPipeline(socket, rec);
      socket.on("disconnect", (reason) => {
        records.delete(rec);
        metrics.connections.labels(route.pattern).dec();
        track(onLeave(rec, String(reason)));
      });
      if (route.onConnect) track(runHook(rec, route.onConnect, "connect"));
    });
  }

  async function admit(socket: Socket, match: (name: string) => Record<string, string> | null, route: CompiledRoute): Promise<void> {
    const conn = socket.conn as unknown as EngineConn;
    const origin = socket.handshake.headers.origin;
    if (!originAllowed(typeof origin === "string" ? origin : undefined, allowed)) {
      refuseConn(conn);
      throw new Error("FORBIDDEN_ORIGIN");
    }
    const admitted = await conn[CONN_ADMIT];
    if (admitted === false) {
      refuseConn(conn);
      throw new Error("TOO_MANY_CONNECTIONS");
    }
    const ip = conn[CONN_IP] ?? clientIp(socket.request, config.trustProxy);
    const params = match(socket.nsp.name) ?? {};

    let user: unknown = null;
    const auth = route.route.auth as ((ctx: AuthContext) => unknown) | undefined;
    if (auth) {
      const probe = new SocketRecord(socket, route, shared, null, null, ip, params, null);
      const actx: AuthContext = {
        socket: socket as unknown as WssSocket,
        get req() {
          return requestOf(probe);
        },
        handshake: socket.handshake as unknown as WssHandshake,
        namespace: socket.nsp.name,
        params,
        get log() {
          return socketLogger(probe);
        },
        state: shared.state,
      };
      try {
        user = (await auth(actx)) ?? null;
      } catch (err) {
        socketLogger(probe).info({ err: { message: err instanceof Error ? err.message : String(err) } }, "auth refused the connection");
        throw new Error("UNAUTHORIZED");
      }
    }
    const userId = user === null ? null : userIdOf(user);
    if (user !== null && userId === null) {
      logger.error({ namespace: socket.nsp.name }, "auth returned a user without an `id` (string or number): connection refused");
      throw new Error("UNAUTHORIZED");
    }
    if (route.requireAuth && userId === null) throw new Error("UNAUTHORIZED");

    // Identity lives server-side only: read-only on socket.data, nothing the client sends can set it.
    Object.defineProperty(socket.data, "user", { value: user, enumerable: true, writable: false, configurable: false });
    const rec = new SocketRecord(socket, route, shared, user, userId, ip, params, globalBucketFor(route));
    (socket as unknown as Record<symbol, SocketRecord>)[RECORD] = rec;

    if (userId !== null) {
      await socket.join(userRoom(userId));
      try {
        await shared.bounded(shared.presence.add({ namespace: socket.nsp.name, socketId: socket.id, userId }), "presence.add");
      } catch (err) {
        // Degraded, not refused: the presence backend re-asserts its entries when it is back.
        socketLogger(rec).warn({ err: { message: err instanceof Error ? err.message : String(err) } }, "presence unavailable at connect");
      }
    }
  }

  function refuseConn(conn: EngineConn): void {
    // Let the CONNECT_ERROR packet flush, then free the Engine.IO session.
    setTimeout(() => conn.close(), 200).unref();
  }

  async function onLeave(rec: SocketRecord, reason: string): Promise<void> {
    // Presence first: onDisconnect sees the world without this socket (e.g. to push the
    // room's new user list).
    if (rec.userId !== null) {
      await shared.bounded(shared.presence.remove(rec.socket.nsp.name, rec.socket.id), "presence.remove").catch((err: unknown) => {
        socketLogger(rec).warn({ err: { message: err instanceof Error ? err.message : String(err) } }, "presence unavailable at disconnect");
      });
    }
    if (rec.route.onDisconnect) await runHook(rec, rec.route.onDisconnect, "disconnect", reason);
  }

  let closing: Promise<void> | null = null;
  const rt: RealtimeServer = {
    io,
    state: shared.state,
    metrics: metrics.registry,
    httpServer,
    config,
    logger,
    listen(port = 0, host?: string) {
      return new Promise<number>((resolve, reject) => {
        if (httpServer.listening) {
          resolve((httpServer.address() as AddressInfo).port);
          return;
        }
        const onError = (err: Error) => reject(err);
        httpServer.once("error", onError);
        const cb = () => {
          httpServer.off("error", onError);
          const bound = (httpServer.address() as AddressInfo).port;
          logger.info({ port: bound, path: config.path, mode: config.scale.mode }, `realtime server listening on :${bound}${config.path}`);
          resolve(bound);
        };
        if (host) httpServer.listen(port, host, cb);
        else httpServer.listen(port, cb);
      });
    },
    async disconnectUser(userId: string) {
      const room = userRoom(String(userId));
      for (const nsp of io._nsps.values()) nsp.in(room).disconnectSockets(true);
      // Dynamic namespaces' children are in _nsps too; the adapter relays to other instances.
    },
    health: () => components.health(),
    close() {
      closing ??= (async () => {
        // Sockets disconnect (onDisconnect runs for each), then the parts close.
        for (const nsp of io._nsps.values()) nsp.local.disconnectSockets(true);
        await Promise.allSettled([...pendingHooks]);
        await new Promise<void>((resolve) => {
          io.close(() => resolve());
        }).catch(() => undefined);
        if (metricsHandler) metricsHandler.uninstall();
        await components.close();
      })();
      return closing;
    },
  };
  return rt;
}

/** Serves `metrics.path` on the HTTP server, before Socket.IO and any user listener. */
function installMetricsEndpoint(
  httpServer: HttpServer,
  config: RealtimeConfig,
  metrics: ServerMetrics,
  owned: boolean,
): { uninstall(): void } {
  const previous = httpServer.listeners("request") as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === config.metrics.path && req.method === "GET") {
      metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(body);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    if (previous.length > 0) {
      for (const l of previous) l.call(httpServer, req, res);
      return;
    }
    if (owned) {
      // Socket.IO answers its own path before this handler runs; the rest is a 404.
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("Not found");
    }
  };
  httpServer.removeAllListeners("request");
  httpServer.on("request", handler);
  return {
    uninstall() {
      httpServer.off("request", handler);
    },
  };
}
