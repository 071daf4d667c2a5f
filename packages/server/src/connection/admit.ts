import { LolyError, type LolyLogger } from "@loly-rt/core";
import { withTimeout } from "@loly-rt/core/internal";
import type { Socket } from "socket.io";
import { errorMessage } from "../backends/bounded.js";
import type { Outages } from "../backends/outages.js";
import type { CompiledRoute } from "../routes/compile.js";
import type { SharedServices } from "../services.js";
import { SocketRecord } from "../socket/record.js";
import { userRoom } from "../socket/rooms.js";
import { callAuth, userIdOf } from "./auth.js";
import { fixIdentity } from "./identity.js";
import type { EngineConn } from "./engine.js";
import type { Recovery } from "../recovery/restore.js";
import type { Sessions } from "./sessions.js";

/** The params of a namespace name for a route's pattern (`{}` for a static one). */
export type NamespaceMatch = (name: string) => Record<string, string> | null;

/** What admission needs, built once per server. */
export interface AdmitDeps {
  readonly shared: SharedServices;
  readonly sessions: Sessions;
  /** Connection-state recovery, when on. */
  readonly recovery?: Recovery | undefined;
  readonly outages: Outages;
  readonly logger: LolyLogger;
}

/**
 * Admits a socket to a route's namespace once the handshake (origin) and the namespace guard
 * (per-IP limit, namespaces per connection) let it through: the route's `auth` hook, bounded
 * by `handlerTimeoutMs` (and `requireAuth`), then its identity is fixed on `socket.data.user`
 * and a signed-in socket joins `user:<id>` and presence. Resolves the socket's record;
 * rejects with a `LolyError` whose code is the `connect_error` the client reads.
 */
export async function admit(socket: Socket, match: NamespaceMatch, route: CompiledRoute, deps: AdmitDeps): Promise<SocketRecord> {
  const { shared, logger } = deps;
  const ip = deps.sessions.get(socket.conn as unknown as EngineConn)?.ip ?? deps.sessions.clientIp(socket.request);
  const params = match(socket.nsp.name) ?? {};

  let user: unknown = null;
  if (route.route.auth) {
    const pending = callAuth(socket, route, shared, ip, params);
    const timeoutMs = shared.config.handlerTimeoutMs;
    try {
      user = await (timeoutMs > 0 ? withTimeout(pending, timeoutMs, "auth") : pending);
      deps.outages.recovered("auth");
    } catch (err) {
      // Not settled within handlerTimeoutMs, or a backend the hook needs is down: not a refusal of the user.
      if (LolyError.is(err) && err.code === "UNAVAILABLE") {
        deps.outages.degraded("auth", err, "auth unavailable or too slow: connections refused with UNAVAILABLE", {
          namespace: socket.nsp.name,
        });
        throw new LolyError("UNAVAILABLE", "auth did not answer in time", undefined, { cause: err });
      }
      logger.info({ namespace: socket.nsp.name, socketId: socket.id, ...authRefusal(err) }, "auth refused the connection");
      throw new LolyError("UNAUTHORIZED", "auth refused the connection", undefined, { cause: err });
    }
  }
  const userId = user === null ? null : userIdOf(user);
  if (user !== null && userId === null) {
    logger.error({ namespace: socket.nsp.name }, "auth returned a user without an `id` (string or number): connection refused");
    throw new LolyError("UNAUTHORIZED", "auth returned a user without an id");
  }
  if (route.requireAuth && userId === null) throw new LolyError("UNAUTHORIZED", "this namespace requires a user");

  // A recovery is one for the same user only; its data (without `user`) comes back.
  const restore = deps.recovery?.claim(socket, userId) ?? null;
  if (restore !== null) Object.assign(socket.data, restore.session.data);
  // Identity lives server-side only: read-only on socket.data, nothing the client sends can set it.
  fixIdentity(socket, user);
  const rec = new SocketRecord(socket, route, shared, user, userId, ip, params);
  rec.restore = restore;
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

/**
 * What the log says of a value the `auth` hook threw: its `code` (when it has a string one)
 * and `reason` (its message), and as `err` an Error that is not a LolyError (pino's err
 * serializer gives its type and stack; it would log a plain object as `{"type":"Object"}`).
 */
function authRefusal(err: unknown): { code?: string; reason: string; err?: Error } {
  if (LolyError.is(err)) return { code: err.code, reason: err.message };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" ? { code, reason: err.message, err } : { reason: err.message, err };
  }
  if (typeof err === "object" && err !== null) {
    const { code, message } = err as { code?: unknown; message?: unknown };
    const reason = typeof message === "string" ? message : "a thrown object without a message";
    return typeof code === "string" ? { code, reason } : { reason };
  }
  return { reason: errorMessage(err) };
}
