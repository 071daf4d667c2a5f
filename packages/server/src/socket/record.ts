import { parse as parseCookieHeader } from "cookie";
import type { Socket } from "socket.io";
import type { LolyLogger, WssPresence, WssRequest } from "@loly-rt/core";
import { TokenBucket } from "@loly-rt/ratelimit";
import type { Restore } from "../recovery/restore.js";
import type { CompiledRoute } from "../routes/compile.js";
import type { SharedServices } from "../services.js";

/**
 * Per-socket state of the pipeline, created when a socket is admitted. Everything that is
 * not needed by every event (the request view, the child logger, the presence view, the
 * per-event buckets) is built on first use and cached here.
 */
export class SocketRecord {
  /** The global bucket when `limits.scope` is `socket`, created on the socket's first event (an idle socket holds none). */
  globalBucket: TokenBucket | null = null;
  /** Per-event buckets of `socket` scope, created on first use, by event index. */
  eventBuckets: Array<TokenBucket | undefined> | null = null;
  /** What this socket recovers (connection-state recovery), until it is given back on connect. */
  restore: Restore | null = null;
  /** True when the socket recovered its session (`ctx.recovered`). */
  recovered = false;
  /** True once a drain reached this socket's connection: new events are refused with `UNAVAILABLE`. */
  closing = false;
  /** Steps of this socket's events waiting on a promise (an async schema, guard, limiter or handler): a drain waits for 0. */
  inFlight = 0;
  /** Global-bucket refusals since the bucket last admitted an event (a flood past `limits.burst` is throttled). */
  overflow = 0;
  /** What is built on first use (most sockets never need one of them): one field while idle. */
  private lazy: Lazy | undefined = undefined;

  constructor(
    readonly socket: Socket,
    readonly route: CompiledRoute,
    readonly shared: SharedServices,
    readonly user: unknown,
    readonly userId: string | null,
    readonly ip: string,
    readonly params: Record<string, string>,
  ) {}

  /** The socket's refusal budget: the global bucket's size and rate (`limits.burst`, `limits.eventsPerSecond`). */
  refusalBudget(): TokenBucket {
    const lazy = (this.lazy ??= {});
    return (lazy.refusals ??= new TokenBucket(this.route.globalSpec));
  }

  /** `ctx.req`: the handshake's headers, URL and cookies, with the client IP. */
  request(): WssRequest {
    const lazy = (this.lazy ??= {});
    if (lazy.req === undefined) {
      const hs = this.socket.handshake;
      let cookies: Record<string, string> | undefined;
      lazy.req = {
        headers: hs.headers,
        ip: this.ip,
        url: hs.url,
        get cookies() {
          return (cookies ??= parseCookies(hs.headers.cookie));
        },
      };
    }
    return lazy.req;
  }

  /** The per-socket logger: a child bound to namespace, socketId and userId. */
  logger(): LolyLogger {
    const lazy = (this.lazy ??= {});
    return (lazy.log ??= this.shared.logger.child({
      namespace: this.socket.nsp.name,
      socketId: this.socket.id,
      userId: this.userId,
    }));
  }

  /** `ctx.presence`: this namespace's presence, every call bounded by the command timeout. */
  presence(): WssPresence {
    const lazy = (this.lazy ??= {});
    if (lazy.presence === undefined) {
      const { presence } = this.shared;
      const ns = this.socket.nsp.name;
      const bounded = this.shared.bounded.bind(this.shared);
      lazy.presence = {
        users: (room?: string) => bounded(presence.users(ns, room), "presence.users"),
        socketsOf: (userId: string) => bounded(presence.socketsOf(ns, String(userId)), "presence.socketsOf"),
        isOnline: (userId: string) => bounded(presence.isOnline(ns, String(userId)), "presence.isOnline"),
      };
    }
    return lazy.presence;
  }
}

/** The parts of a socket's record built on first use. */
interface Lazy {
  /** How many unasked-for refusals (`__loly:error` without an ack) this socket may still be sent. */
  refusals?: TokenBucket;
  req?: WssRequest;
  log?: LolyLogger;
  presence?: WssPresence;
}

/** A `cookie` header as a record (first value wins, values URI-decoded when valid), by the `cookie` package. */
function parseCookies(header: string | string[] | undefined): Record<string, string> {
  const raw = Array.isArray(header) ? header.join(";") : header;
  return raw ? (parseCookieHeader(raw) as Record<string, string>) : (Object.create(null) as Record<string, string>);
}
