import { LolyError, isConnectErrorCode, type ConnectErrorCode } from "@loly-rt/core";
import type { Namespace, Socket } from "socket.io";
import { errorMessage } from "../backends/bounded.js";
import { attachPipeline } from "../pipeline/handle.js";
import type { CompiledRoute } from "../routes/compile.js";
import { presenceRemove } from "../socket/live-presence.js";
import type { SocketRecord } from "../socket/record.js";
import { admit, type AdmitDeps, type NamespaceMatch } from "./admit.js";
import { connectError, type NamespaceGuard } from "./guard.js";
import { PendingWork, runHook } from "./hooks.js";
import { giveBack } from "./recover.js";

/**
 * The life of the sockets of every route: admission as the namespace's middleware, then on
 * `connection` the pipeline and `onConnect`, on `disconnect` presence cleanup and
 * `onDisconnect`. Keeps the connected sockets' records (for `revalidate`) and the hooks
 * still running (for `close`).
 */
export class Connections {
  /** Records of connected sockets. */
  readonly records = new Map<Socket, SocketRecord>();
  readonly pending: PendingWork;
  /** Records of sockets admitted by the middleware, until their `connection` event. */
  private readonly admitted = new WeakMap<Socket, SocketRecord>();
  /** One listener for every socket (`this` is the socket): no closure per connection. */
  private readonly onDisconnect: (this: Socket, reason: string) => void;

  /** Namespace patterns of the routes, by namespace (dynamic parents by their children). */
  private readonly patterns = new WeakMap<Namespace, string>();
  private readonly dynamic: Array<{ readonly children: Set<Namespace>; readonly pattern: string }> = [];

  constructor(
    private readonly deps: AdmitDeps,
    private readonly guard: NamespaceGuard,
    /** True while the server drains. */
    draining: () => boolean,
    /** Called when a socket left or was refused (dynamic namespaces are reaped once empty). */
    private readonly onGone: (nsp: Namespace) => void,
  ) {
    this.pending = new PendingWork(deps.logger, deps.shared.config.handlerTimeoutMs);
    const self = this;
    this.onDisconnect = function (this: Socket, reason: string): void {
      // The guard's namespace slot first (it adds no listener of its own on a route's socket).
      guard.release(this);
      // Socket.IO's own name for it: a drain closes the transport, which Socket.IO calls "forced close".
      self.left(this, reason === "forced close" && draining() ? "server shutting down" : String(reason));
    };
  }

  /** The metrics label of a namespace: its route's pattern, or its own name (the application's namespaces). */
  patternOf(nsp: Namespace): string {
    return this.patterns.get(nsp) ?? this.dynamic.find((d) => d.children.has(nsp))?.pattern ?? nsp.name;
  }

  /** Serves `route` on `nsp` (a dynamic route's parent namespace too): admission middleware and connection handler. */
  serve(nsp: Namespace, match: NamespaceMatch, route: CompiledRoute): void {
    const { metrics } = this.deps.shared;
    this.patterns.set(nsp, route.pattern);
    const children = (nsp as unknown as { children?: Set<Namespace> }).children;
    if (children instanceof Set) this.dynamic.push({ children, pattern: route.pattern });
    this.guard.serve(nsp);
    nsp.use((socket, next) => {
      admit(socket, match, route, this.deps).then(
        (rec) => {
          this.admitted.set(socket, rec);
          next();
          // A client that closed meanwhile is dropped by socket.io: its namespace may be empty.
          this.onGone(socket.nsp);
        },
        (err: unknown) => {
          this.guard.release(socket);
          const code = this.refusalCode(socket, err);
          metrics.refusedConnections.labels(route.pattern, code).inc();
          next(connectError(code));
          this.onGone(socket.nsp);
        },
      );
    });
    nsp.on("connection", (socket: Socket) => {
      const rec = this.admitted.get(socket);
      if (!rec) {
        socket.disconnect(true);
        return;
      }
      this.admitted.delete(socket);
      this.records.set(socket, rec);
      metrics.connections.labels(route.pattern).inc();
      metrics.connectionsTotal.labels(route.pattern).inc();
      attachPipeline(socket, rec);
      socket.on("disconnect", this.onDisconnect);
      const recovery = this.deps.recovery;
      const back = recovery ? giveBack(recovery, rec) : undefined;
      const onConnect = route.onConnect;
      if (back !== undefined) this.pending.track(onConnect ? back.then(() => runHook(rec, onConnect, "connect")) : back);
      else if (onConnect) this.pending.track(runHook(rec, onConnect, "connect"));
    });
  }

  /** The code of an admission failure: its own connect code, or `INTERNAL` (logged with its stack). */
  private refusalCode(socket: Socket, err: unknown): ConnectErrorCode {
    if (LolyError.is(err) && isConnectErrorCode(err.code)) return err.code;
    this.deps.logger.error({ namespace: socket.nsp.name, socketId: socket.id, err }, `connection admission failed: ${errorMessage(err)}`);
    return "INTERNAL";
  }

  private left(socket: Socket, reason: string): void {
    const rec = this.records.get(socket);
    if (!rec) return;
    this.records.delete(socket);
    this.deps.shared.metrics.connections.labels(rec.route.pattern).dec();
    this.pending.track(this.leave(rec, reason));
    this.onGone(socket.nsp);
  }

  private async leave(rec: SocketRecord, reason: string): Promise<void> {
    const { outages } = this.deps;
    // Presence first: onDisconnect sees the world without this socket (e.g. to push the
    // room's new user list); a broadcasting route's rooms hear who left with it.
    if (rec.userId !== null) {
      await presenceRemove(rec).then(
        () => outages.recovered("presence"),
        (err: unknown) => {
          outages.degraded("presence", err, "presence unavailable at disconnect: re-asserted when the backend is back", {
            namespace: rec.socket.nsp.name,
            socketId: rec.socket.id,
          });
        },
      );
    }
    if (rec.route.onDisconnect) await runHook(rec, rec.route.onDisconnect, "disconnect", reason);
  }
}
