import { LolyError, type RealtimeConfig } from "@loly-rt/core";
import type { Backends } from "../backends/assemble.js";
import type { Outages } from "../backends/outages.js";
import { clientIp } from "./client-ip.js";
import { closeAfter, REFUSED_SESSION_MS, type EngineConn } from "./engine.js";

/** A session's client IP and whether the per-IP limit admitted it (decided, or being decided). */
interface Admission {
  readonly ip: string;
  admitted: Promise<boolean> | boolean;
}

/**
 * The per-IP connection limit (`limits.connectionsPerIp`, cluster-wide in cluster mode),
 * counted per Engine.IO session (the thing that costs) when the session opens, and released
 * when it closes. The namespace CONNECT reads the decision (`admitted`) and refuses with
 * `TOO_MANY_CONNECTIONS`. A counter that fails or does not answer within
 * `scale.commandTimeoutMs` decides by `limits.onStoreError`.
 */
export class IpLimit {
  private readonly sessions = new WeakMap<EngineConn, Admission>();
  private readonly limit: number;
  private readonly allowOnError: boolean;
  private readonly timeoutMs: number;
  /** One `close` listener for every session (`this` is the session): nothing allocated per session. */
  private readonly release: (this: EngineConn) => void;

  constructor(
    private readonly config: RealtimeConfig,
    private readonly counter: Backends["counter"],
    private readonly outages: Outages,
  ) {
    this.limit = config.limits.connectionsPerIp;
    this.allowOnError = config.limits.onStoreError === "allow";
    this.timeoutMs = config.scale.commandTimeoutMs;
    const sessions = this.sessions;
    this.release = function (this: EngineConn): void {
      const ip = sessions.get(this)?.ip;
      if (ip !== undefined) void Promise.resolve(counter.release(ip)).catch(() => undefined);
    };
  }

  /** The client IP of a session (`undefined` for one that opened before this limit was installed). */
  ipOf(conn: EngineConn): string | undefined {
    return this.sessions.get(conn)?.ip;
  }

  /** Whether the session was admitted (`undefined`: not counted here). */
  admitted(conn: EngineConn): Promise<boolean> | boolean | undefined {
    return this.sessions.get(conn)?.admitted;
  }

  /** Counts a new Engine.IO session (`io.engine`'s `connection` event). */
  open(conn: EngineConn): void {
    const ip = clientIp(conn.request, this.config.trustProxy);
    const acquired = this.counter.acquire(ip, this.limit);
    const entry: Admission = { ip, admitted: false };
    this.sessions.set(conn, entry);
    entry.admitted = typeof acquired === "boolean" ? this.settle(conn, acquired) : this.decideLater(conn, ip, acquired);
  }

  /** Admitted: released when the session closes. Refused: closed soon even if it never sends a CONNECT. */
  private settle(conn: EngineConn, ok: boolean): boolean {
    if (ok) conn.on("close", this.release);
    else closeAfter(conn, REFUSED_SESSION_MS);
    return ok;
  }

  private decideLater(conn: EngineConn, ip: string, acquired: Promise<boolean>): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let decided: boolean | undefined;
      let closed = false;
      conn.on("close", () => (closed = true));
      const byPolicy = (err: unknown): void => {
        decided = this.allowOnError;
        this.outages.degraded(
          "connections",
          err,
          `per-IP connection count unavailable: ${decided ? "admitting" : "refusing"} connections (limits.onStoreError)`,
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
            decided = ok;
            this.outages.recovered("connections");
            resolve(this.settle(conn, ok));
          } else if (ok && (!decided || closed)) this.release.call(conn); // counted late: after a refusal, or after the session closed
        },
        (err: unknown) => {
          if (decided === undefined) {
            clearTimeout(timer);
            byPolicy(err);
            // Admitted uncounted: count it locally so the re-assert after the outage includes it.
            if (this.allowOnError) this.counter.count?.(ip);
          } else if (decided && !closed) this.counter.count?.(ip);
        },
      );
    });
  }
}
