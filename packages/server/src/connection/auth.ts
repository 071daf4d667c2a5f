import type { AuthContext, WssHandshake, WssSocket } from "@loly-rt/core";
import type { Socket } from "socket.io";
import type { CompiledRoute } from "../routes/compile.js";
import type { SharedServices } from "../services.js";
import { SocketRecord } from "../socket/record.js";

/** Runs the route's `auth` hook for a socket (its handshake as at connect time); resolves the user or null. */
export async function callAuth(
  socket: Socket,
  route: CompiledRoute,
  shared: SharedServices,
  ip: string,
  params: Record<string, string>,
): Promise<unknown> {
  const auth = route.route.auth as (ctx: AuthContext) => unknown;
  // The request view and logger of a socket that has no user yet.
  const probe = new SocketRecord(socket, route, shared, null, null, ip, params);
  const actx: AuthContext = {
    socket: socket as unknown as WssSocket,
    get req() {
      return probe.request();
    },
    handshake: socket.handshake as unknown as WssHandshake,
    namespace: socket.nsp.name,
    params,
    get log() {
      return probe.logger();
    },
    state: shared.state,
  };
  return (await auth(actx)) ?? null;
}

/** The id of a user the auth hook returned: the user itself (string or number), or its `id`. */
export function userIdOf(user: unknown): string | null {
  if (typeof user === "string" && user.length > 0) return user;
  if (typeof user === "number" && Number.isFinite(user)) return String(user);
  if (typeof user === "object" && user !== null) {
    const id = (user as { id?: unknown }).id;
    if ((typeof id === "string" && id.length > 0) || (typeof id === "number" && Number.isFinite(id))) return String(id);
  }
  return null;
}

/** Whether two users are the same (same id, same JSON): `revalidate` keeps a socket only then. */
export function sameUser(a: unknown, b: unknown): boolean {
  if (userIdOf(a) !== userIdOf(b)) return false;
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    // Not JSON (cycles, BigInt): the id decides.
    return true;
  }
}
