import { USER_ROOM_PREFIX } from "../socket/rooms.js";
import type { SocketRecord } from "../socket/record.js";
import type { FetchSocketsFilter, FetchedSocket } from "../types.js";

/** One socket as `fetchSockets` describes it, before the instance is added. */
export type LocalSocket = Omit<FetchedSocket, "instance">;

/**
 * `fetchSockets` on this instance: the connected sockets of the routes that match every key of
 * `filter` (`namespace` a name or a route pattern, `user` the user id, `room` a room the
 * socket is in). Each is described by copies only: its rooms (without the socket's own id and
 * its `user:` room), its user id, and `socket.data` without `user` as JSON (what recovery
 * carries across instances too); never the user object or the handshake.
 */
export function fetchLocal(records: Iterable<SocketRecord>, filter: FetchSocketsFilter): LocalSocket[] {
  const user = filter.user === undefined ? undefined : String(filter.user);
  const out: LocalSocket[] = [];
  for (const rec of records) {
    const { socket } = rec;
    if (!socket.connected) continue;
    if (user !== undefined && rec.userId !== user) continue;
    if (filter.namespace !== undefined && socket.nsp.name !== filter.namespace && rec.route.pattern !== filter.namespace) continue;
    if (filter.room !== undefined && !socket.rooms.has(filter.room)) continue;
    const rooms: string[] = [];
    for (const room of socket.rooms) if (room !== socket.id && !room.startsWith(USER_ROOM_PREFIX)) rooms.push(room);
    out.push({ id: socket.id, namespace: socket.nsp.name, rooms, userId: rec.userId, data: dataCopy(socket.data) });
  }
  return out;
}

/** `socket.data` without `user`, as JSON would carry it; a value JSON cannot carry (a cycle, a BigInt) is left out. */
function dataCopy(data: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  if (typeof data !== "object" || data === null) return copy;
  for (const key of Object.keys(data)) {
    if (key === "user" || key === "__proto__") continue;
    try {
      const json = JSON.stringify((data as Record<string, unknown>)[key]);
      if (json !== undefined) copy[key] = JSON.parse(json);
    } catch {
      // not JSON: not carried
    }
  }
  return copy;
}
