import type { IncomingMessage } from "node:http";
import { LolyError, type RealtimeConfig } from "@loly-rt/core";
import { TokenBucket } from "@loly-rt/ratelimit";
import type { Backends } from "../backends/assemble.js";
import type { Outages } from "../backends/outages.js";
import { clientIp, compileTrust, type TrustFn } from "./client-ip.js";
import { closeAfter, REFUSED_SESSION_MS, type EngineConn } from "./engine.js";

/** The per-IP decision for a session: admitted, over the limit, or not decidable (counter down, `deny`). */
export type IpDecision = "admitted" | "TOO_MANY_CONNECTIONS" | "UNAVAILABLE";

/** What the server keeps per Engine.IO session. */
export interface Session {
  readonly ip: string;
  /** The per-IP decision, or its promise while the counter answers. */
  ipDecision: Promise<IpDecision> | IpDecision;
  /** Namespaces this session is connected to, plus Loly admissions in flight. */
  namespaces: number;
  /**
   * Namespace CONNECTs this session may still send (refilled over time); created on the second
   * CONNECT, as it would stand had it been created on the first (most sessions send one).
   */
  connects: TokenBucket | null;
  /** When the first CONNECT was taken (monotonic ms), until the bucket exists; -1: none yet. */
  firstConnectAt: number;
  /** Bytes queued in Engine.IO's write buffer since it was last flushed (see `transport/backpressure.ts`). */
  unsent: number;
  /** Closed for holding more than `limits.maxBufferedBytes` unsent. */
  slow: boolean;
  /** Counted in the per-IP count: released when the session closes. */
  counted: boolean;
}

/** How fast a session's CONNECT budget refills, per second (its capacity is `limits.namespacesPerConnection`). */
const CONNECTS_PER_SECOND = 1;

/**
 * The server's Engine.IO sessions: each one's client IP, the per-IP connection limit
 * (`limits.connectionsPerIp`, cluster-wide in cluster mode, counted per session, released
 * when it closes), and how many namespaces it holds. A counter that fails or does not answer
 * within `scale.commandTimeoutMs` decides by `limits.onStoreError` (`deny`: `UNAVAILABLE`).
 */
export class Sessions {
  /**
   * Where a connection's session is kept: a property of the Engine.IO connection (a WeakMap
   * entry would cost more per connection), named by a symbol of this server's own.
   */
  private readonly key = Symbol("loly.session");
  private readonly limit: number;
  private readonly allowOnError: boolean;
  private readonly timeoutMs: number;
  /** `trustProxy`, compiled. */
  private readonly trust: TrustFn;

  constructor(
    private readonly config: RealtimeConfig,
    private readonly counter: Backends["counter"],
    private readonly outages: Outages,
  ) {
    this.limit = config.limits.connectionsPerIp;
    this.allowOnError = config.limits.onStoreError === "allow";
    this.timeoutMs = config.scale.commandTimeoutMs;
    this.trust = compileTrust(config.trustProxy);
  }

  /** The session of an Engine.IO connection (`undefined`: opened before the server listened to them). */
  get(conn: EngineConn): Session | undefined {
    return (conn as unknown as Record<symbol, Session | undefined>)[this.key];
  }

  /** The Engine.IO connection closed (its `close` event): its per-IP count is released. */
  closed(conn: EngineConn): void {
    const session = this.get(conn);
    if (session?.counted !== true) return;
    session.counted = false;
    this.release(session.ip);
  }

  private release(ip: string): void {
    void Promise.resolve(this.counter.release(ip)).catch(() => undefined);
  }

  /** The client IP of a request, by `trustProxy`. */
  clientIp(req: IncomingMessage): string {
    return clientIp(req, this.trust);
  }

  /** Takes one namespace CONNECT from the session's budget; false when it is spent. */
  takeConnect(session: Session): boolean {
    const now = performance.now();
    if (session.connects === null) {
      // The first always fits (the capacity is at least 1): no bucket for a session that sends one.
      if (session.firstConnectAt < 0) {
        session.firstConnectAt = now;
        return true;
      }
      const capacity = this.config.limits.namespacesPerConnection;
      session.connects = new TokenBucket({ capacity, refillPerSecond: CONNECTS_PER_SECOND }, session.firstConnectAt);
      session.connects.take(1, session.firstConnectAt);
    }
    return session.connects.take(1, now);
  }

  /** Counts a new Engine.IO session (`io.engine`'s `connection` event). */
  open(conn: EngineConn): void {
    const ip = clientIp(conn.request, this.trust);
    const acquired = this.counter.acquire(ip, this.limit);
    const session: Session = {
      ip,
      ipDecision: "UNAVAILABLE",
      namespaces: 0,
      connects: null,
      firstConnectAt: -1,
      unsent: 0,
      slow: false,
      counted: false,
    };
    (conn as unknown as Record<symbol, Session>)[this.key] = session;
    session.ipDecision =
      typeof acquired === "boolean"
        ? this.settle(conn, acquired ? "admitted" : "TOO_MANY_CONNECTIONS")
        : this.decideLater(conn, ip, acquired);
  }

  /**
   * Admitted: counted, released when the session closes (at once when it closed while the count
   * answered; admitted by policy while the counter is down, it counts too: the counter re-asserts
   * it). Refused: closed soon even if it never sends a CONNECT.
   */
  private settle(conn: EngineConn, decision: IpDecision): IpDecision {
    const session = this.get(conn);
    // The decision itself from now on, not the promise that brought it (a promise per connection for its life).
    if (session !== undefined) session.ipDecision = decision;
    if (decision === "admitted") {
      if (session !== undefined) session.counted = true;
      if (conn.readyState === "closed") this.closed(conn);
    } else closeAfter(conn, REFUSED_SESSION_MS);
    return decision;
  }

  private decideLater(conn: EngineConn, ip: string, acquired: Promise<boolean>): Promise<IpDecision> {
    return new Promise<IpDecision>((resolve) => {
      let decided: IpDecision | undefined;
      // Read from the session when the count answers late (a listener would keep this
      // closure's context alive for the whole connection).
      const closed = (): boolean => conn.readyState === "closed";
      const byPolicy = (err: unknown): void => {
        decided = this.allowOnError ? "admitted" : "UNAVAILABLE";
        this.outages.degraded(
          "connections",
          err,
          `per-IP connection count unavailable: ${this.allowOnError ? "admitting" : "refusing"} connections (limits.onStoreError)`,
        );
        resolve(this.settle(conn, decided));
      };
      const timer = setTimeout(
        () => byPolicy(new LolyError("UNAVAILABLE", `connection count did not answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
      timer.unref();
      acquired.then(
        (ok) => {
          if (decided === undefined) {
            clearTimeout(timer);
            decided = ok ? "admitted" : "TOO_MANY_CONNECTIONS";
            this.outages.recovered("connections");
            resolve(this.settle(conn, decided));
          } else if (ok && (decided !== "admitted" || closed())) this.release(ip); // counted late: after a refusal, or after the session closed
        },
        (err: unknown) => {
          if (decided === undefined) {
            clearTimeout(timer);
            byPolicy(err);
            // Admitted uncounted: count it locally so the re-assert after the outage includes it.
            if (this.allowOnError) this.counter.count?.(ip);
          } else if (decided === "admitted" && !closed()) this.counter.count?.(ip);
        },
      );
    });
  }
}
