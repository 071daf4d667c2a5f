import { LolyError, type LolyLogger } from "@loly-rt/core";
import type { Socket } from "socket.io";
import { errorMessage } from "../backends/bounded.js";
import type { Outages } from "../backends/outages.js";
import { globalBucketFor } from "../pipeline/handle.js";
import type { CompiledRoute } from "../routes/compile.js";
import type { SharedServices } from "../services.js";
import { SocketRecord } from "../socket/record.js";
import { userRoom } from "../socket/rooms.js";
import { callAuth, userIdOf } from "./auth.js";
import { clientIp } from "./client-ip.js";
import { closeAfter, REFUSAL_FLUSH_MS, type EngineConn } from "./engine.js";
import type { IpLimit } from "./ip-limit.js";
import { originAllowed } from "./origin.js";

/** The params of a namespace name for a route's pattern (`{}` for a static one). */
export type NamespaceMatch = (name: string) => Record<string, string> | null;

/** What admission needs, built once per server. */
export interface AdmitDeps {
  readonly shared: SharedServices;
  readonly allowed: "*" | ReadonlySet<string>;
  readonly ipLimit: IpLimit;
  readonly outages: Outages;
  readonly logger: LolyLogger;
}

/**
 * Admits a socket to a route's namespace, in order: origin allow-list, per-IP limit, the
 * route's `auth` hook (and `requireAuth`), then its identity is fixed on `socket.data.user`
 * and a signed-in socket joins `user:<id>` and presence. Resolves the socket's record;
 * rejects with a `LolyError` whose code is the `connect_error` the client reads.
 */
export async function admit(socket: Socket, match: NamespaceMatch, route: CompiledRoute, deps: AdmitDeps): Promise<SocketRecord> {
  const { shared, logger } = deps;
  const conn = socket.conn as unknown as EngineConn;
  const origin = socket.handshake.headers.origin;
  if (!originAllowed(typeof origin === "string" ? origin : undefined, deps.allowed)) {
    closeAfter(conn, REFUSAL_FLUSH_MS);
    throw new LolyError("FORBIDDEN_ORIGIN", "origin not allowed");
  }
  if ((await deps.ipLimit.admitted(conn)) === false) {
    closeAfter(conn, REFUSAL_FLUSH_MS);
    throw new LolyError("TOO_MANY_CONNECTIONS", "too many connections from this IP");
  }
  const ip = deps.ipLimit.ipOf(conn) ?? clientIp(socket.request, shared.config.trustProxy);
  const params = match(socket.nsp.name) ?? {};

  let user: unknown = null;
  if (route.route.auth) {
    try {
      user = await callAuth(socket, route, shared, ip, params);
    } catch (err) {
      logger.info({ namespace: socket.nsp.name, socketId: socket.id, err: { message: errorMessage(err) } }, "auth refused the connection");
      throw new LolyError("UNAUTHORIZED", "auth refused the connection", undefined, { cause: err });
    }
  }
  const userId = user === null ? null : userIdOf(user);
  if (user !== null && userId === null) {
    logger.error({ namespace: socket.nsp.name }, "auth returned a user without an `id` (string or number): connection refused");
    throw new LolyError("UNAUTHORIZED", "auth returned a user without an id");
  }
  if (route.requireAuth && userId === null) throw new LolyError("UNAUTHORIZED", "this namespace requires a user");

  // Identity lives server-side only: read-only on socket.data, nothing the client sends can set it.
  Object.defineProperty(socket.data, "user", { value: user, enumerable: true, writable: false, configurable: false });
  const rec = new SocketRecord(socket, route, shared, user, userId, ip, params, globalBucketFor(route));
  if (userId !== null) {
    await socket.join(userRoom(userId));
    try {
      await shared.bounded(shared.presence.add({ namespace: socket.nsp.name, socketId: socket.id, userId }), "presence.add");
      deps.outages.recovered("presence");
    } catch (err) {
      // Degraded, not refused: the presence backend re-asserts its entries when it is back.
      deps.outages.degraded("presence", err, "presence unavailable at connect: admitted anyway, re-asserted when the backend is back", {
        namespace: socket.nsp.name,
        socketId: socket.id,
      });
    }
  }
  return rec;
}
