import type { ConnectErrorCode } from "@loly-rt/core";
import type { Namespace, Server, Socket } from "socket.io";
import { closeAfter, REFUSAL_FLUSH_MS, type EngineConn } from "./engine.js";
import type { IpDecision, Session, Sessions } from "./sessions.js";

type Next = (err?: Error) => void;

/** A refused connection's `connect_error`: its message is the code (and `data.code` too). */
export function connectError(code: ConnectErrorCode): Error & { data: { code: ConnectErrorCode } } {
  return Object.assign(new Error(code), { data: { code } });
}

/**
 * The first middleware of every namespace, Loly's and the application's own (`rt.io.of(...)`,
 * the admin UI's): a session over the per-IP limit is refused with `TOO_MANY_CONNECTIONS`
 * (then closed); a session that holds `limits.namespacesPerConnection` namespaces, or sends
 * CONNECTs faster than its budget refills, gets `TOO_MANY_NAMESPACES`.
 */
export class NamespaceGuard {
  /**
   * Marks a socket that holds one of its session's namespace slots: a property of the socket
   * (true while it holds it; a WeakSet entry would cost more per socket), named by a symbol of
   * this server's own.
   */
  private readonly holds = Symbol("loly.holds");
  private readonly guarded = new WeakSet<object>();
  /** Namespaces of Loly's routes: their lifecycle releases the slot at disconnect (one listener, not two). */
  private readonly served = new WeakSet<Namespace>();
  /** Served dynamic parents: their children are served too. */
  private readonly servedParents: Array<{ readonly children: Set<Namespace> }> = [];
  /** Guarded dynamic parents: their children are guarded by the middleware they copied. */
  private readonly parents: Array<{ readonly children: Set<Namespace> }> = [];
  private readonly limit: number;
  readonly middleware: (socket: Socket, next: Next) => void;
  /** One `disconnect` listener for every socket (`this` is the socket). */
  private readonly onDisconnect: (this: Socket) => void;

  constructor(
    private readonly sessions: Sessions,
    limit: number,
    /** True while the server drains: no new namespace is joined (`UNAVAILABLE`). */
    private readonly draining: () => boolean,
    /** Counts a refusal (metrics). */
    private readonly refused: (nsp: Namespace, code: ConnectErrorCode) => void,
  ) {
    this.limit = limit;
    this.middleware = (socket, next) => this.check(socket, next);
    const self = this;
    this.onDisconnect = function (this: Socket): void {
      self.release(this);
    };
  }

  /** Guards every namespace of `io`: the main one, and each one created from now on. */
  install(io: Server): void {
    this.protect(io.of("/"));
    io.on("new_namespace", (nsp: Namespace) => {
      // A child of a guarded dynamic parent already has the guard (children copy their parent's middlewares).
      if (!this.parents.some((p) => p.children.has(nsp))) this.protect(nsp);
    });
  }

  /** Guards one namespace; a dynamic parent (`io.of(regex)`) before any other middleware, so its children inherit it first. */
  protect(nsp: Namespace): void {
    if (this.guarded.has(nsp)) return;
    this.guarded.add(nsp);
    nsp.use(this.middleware);
    const children = (nsp as unknown as { children?: Set<Namespace> }).children;
    if (children instanceof Set) this.parents.push({ children });
  }

  /**
   * Guards a namespace of one of Loly's routes, whose lifecycle calls {@link release} when a
   * socket leaves (the guard then adds no `disconnect` listener of its own).
   */
  serve(nsp: Namespace): void {
    this.served.add(nsp);
    const children = (nsp as unknown as { children?: Set<Namespace> }).children;
    if (children instanceof Set) this.servedParents.push({ children });
    this.protect(nsp);
  }

  private isServed(nsp: Namespace): boolean {
    return this.served.has(nsp) || this.servedParents.some((p) => p.children.has(nsp));
  }

  /** Frees a socket's namespace slot (it left, or a later middleware refused it). Idempotent. */
  release(socket: Socket): void {
    const marks = socket as unknown as Record<symbol, boolean | undefined>;
    if (marks[this.holds] !== true) return;
    // false rather than `delete`: a deleted property turns the socket's properties into a dictionary.
    marks[this.holds] = false;
    const session = this.sessions.get(socket.conn as unknown as EngineConn);
    if (session) session.namespaces--;
  }

  private check(socket: Socket, next: Next): void {
    if (this.draining()) return this.refuse(socket, "UNAVAILABLE", next);
    const conn = socket.conn as unknown as EngineConn;
    const session = this.sessions.get(conn);
    if (!session) return next();
    const decision = session.ipDecision;
    if (typeof decision === "string") return this.decide(socket, session, decision, next);
    decision.then(
      (d) => this.decide(socket, session, d, next),
      () => this.decide(socket, session, "UNAVAILABLE", next),
    );
  }

  private decide(socket: Socket, session: Session, decision: IpDecision, next: Next): void {
    if (decision !== "admitted") {
      closeAfter(socket.conn as unknown as EngineConn, REFUSAL_FLUSH_MS);
      return this.refuse(socket, decision, next);
    }
    if (session.namespaces >= this.limit || !this.sessions.takeConnect(session)) return this.refuse(socket, "TOO_MANY_NAMESPACES", next);
    session.namespaces++;
    (socket as unknown as Record<symbol, boolean>)[this.holds] = true;
    // `on`, not `once`: a socket disconnects once, and `once` costs a wrapper per socket.
    if (!this.isServed(socket.nsp)) socket.on("disconnect", this.onDisconnect);
    next();
  }

  private refuse(socket: Socket, code: ConnectErrorCode, next: Next): void {
    this.refused(socket.nsp, code);
    next(connectError(code));
  }
}
