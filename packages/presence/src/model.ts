import type { PresenceEntry } from "@loly-rt/core";

/** A socket's rooms, created on its first join (most sockets never join one). */
interface SocketInRooms {
  userId: string;
  rooms: Set<string> | null;
}

/**
 * Per-socket and per-user entries are kept compact, since every signed-in connection holds
 * one of each: a socket that joined no room is just its user id, and a user with one socket
 * is just that socket id (a Set only from the second).
 */
type SocketEntry = string | SocketInRooms;
type UserSockets = string | Set<string>;

interface NamespaceState {
  sockets: Map<string, SocketEntry>;
  /** userId -> socket id(s) of that user. */
  users: Map<string, UserSockets>;
  /** room -> (userId -> number of that user's sockets in the room). */
  rooms: Map<string, Map<string, number>>;
}

const userOf = (entry: SocketEntry): string => (typeof entry === "string" ? entry : entry.userId);
const roomsOf = (entry: SocketEntry): Set<string> | null => (typeof entry === "string" ? null : entry.rooms);
const socketList = (sockets: UserSockets): string[] => (typeof sockets === "string" ? [sockets] : [...sockets]);

/**
 * Flat list of hash writes `[keySuffix, field, value, ...]` describing what a change did;
 * `value === ""` deletes the field. The Redis backend ships it as-is to its write script.
 */
export type ChangeList = string[];

/** Suffix of the per-instance hash `userId -> JSON array of socket ids` of a namespace. */
export function usersSuffix(namespace: string): string {
  return `u:${namespace}`;
}

/** Suffix of the per-instance hash `userId -> socket count` of a room; length-prefixed so no two (ns, room) pairs collide. */
export function roomSuffix(namespace: string, room: string): string {
  return `r:${namespace.length}:${namespace}:${room}`;
}

/** The namespace and room of a {@link roomSuffix}, or `null` for another suffix. */
export function parseRoomSuffix(suffix: string): { namespace: string; room: string } | null {
  const m = /^r:(\d+):/.exec(suffix);
  if (m === null) return null;
  const start = m[0].length;
  const end = start + Number(m[1]);
  if (end >= suffix.length || suffix[end] !== ":") return null;
  return { namespace: suffix.slice(start, end), room: suffix.slice(end + 1) };
}

/**
 * The sockets of one instance: the whole state of the memory backend and the local mirror
 * of the Redis backend (which rewrites Redis from it after an outage). Every mutation can
 * record the resulting per-instance hash writes into `out`.
 */
export class PresenceModel {
  private readonly namespaces = new Map<string, NamespaceState>();

  add(entry: PresenceEntry, out?: ChangeList): void {
    const { namespace, socketId, userId } = entry;
    let ns = this.namespaces.get(namespace);
    if (!ns) {
      ns = { sockets: new Map(), users: new Map(), rooms: new Map() };
      this.namespaces.set(namespace, ns);
    }
    const existing = ns.sockets.get(socketId);
    if (existing !== undefined) {
      if (userOf(existing) === userId) return;
      this.remove(namespace, socketId, out);
      return this.add(entry, out);
    }
    ns.sockets.set(socketId, userId);
    const had = ns.users.get(userId);
    let sockets: UserSockets;
    if (had === undefined) sockets = socketId;
    else if (typeof had === "string") sockets = new Set([had, socketId]);
    else sockets = had.add(socketId);
    ns.users.set(userId, sockets);
    out?.push(usersSuffix(namespace), userId, JSON.stringify(socketList(sockets)));
  }

  /** Returns the rooms this instance no longer has the socket's user in (their last socket here). */
  remove(namespace: string, socketId: string, out?: ChangeList): string[] {
    const ns = this.namespaces.get(namespace);
    const entry = ns?.sockets.get(socketId);
    if (!ns || entry === undefined) return [];
    const userId = userOf(entry);
    const rooms = roomsOf(entry);
    const emptied: string[] = [];
    if (rooms) for (const room of rooms) if (this.dropFromRoom(ns, namespace, room, userId, out)) emptied.push(room);
    ns.sockets.delete(socketId);
    const sockets = ns.users.get(userId);
    if (sockets !== undefined) {
      let left: UserSockets | undefined;
      if (typeof sockets === "string") left = sockets === socketId ? undefined : sockets;
      else {
        sockets.delete(socketId);
        left = sockets.size === 0 ? undefined : sockets.size === 1 ? (sockets.values().next().value as string) : sockets;
      }
      if (left === undefined) ns.users.delete(userId);
      else ns.users.set(userId, left);
      out?.push(usersSuffix(namespace), userId, left === undefined ? "" : JSON.stringify(socketList(left)));
    }
    if (ns.sockets.size === 0) this.namespaces.delete(namespace);
    return emptied;
  }

  /** Returns true when the socket's user was not in the room on this instance before. */
  join(namespace: string, socketId: string, room: string, out?: ChangeList): boolean {
    const ns = this.namespaces.get(namespace);
    const entry = ns?.sockets.get(socketId);
    if (!ns || entry === undefined) return false;
    let record: SocketInRooms;
    if (typeof entry === "string") {
      record = { userId: entry, rooms: new Set() };
      ns.sockets.set(socketId, record);
    } else record = entry;
    const rooms = (record.rooms ??= new Set());
    if (rooms.has(room)) return false;
    rooms.add(room);
    let members = ns.rooms.get(room);
    if (!members) {
      members = new Map();
      ns.rooms.set(room, members);
    }
    const count = (members.get(record.userId) ?? 0) + 1;
    members.set(record.userId, count);
    out?.push(roomSuffix(namespace, room), record.userId, String(count));
    return count === 1;
  }

  /** Returns true when this was the user's last socket in the room on this instance. */
  leave(namespace: string, socketId: string, room: string, out?: ChangeList): boolean {
    const ns = this.namespaces.get(namespace);
    const entry = ns?.sockets.get(socketId);
    if (!ns || entry === undefined) return false;
    const rooms = roomsOf(entry);
    if (!rooms?.delete(room)) return false;
    return this.dropFromRoom(ns, namespace, room, userOf(entry), out);
  }

  users(namespace: string, room?: string): string[] {
    const ns = this.namespaces.get(namespace);
    if (!ns) return [];
    if (room === undefined) return [...ns.users.keys()];
    const members = ns.rooms.get(room);
    return members ? [...members.keys()] : [];
  }

  socketsOf(namespace: string, userId: string): string[] {
    const sockets = this.namespaces.get(namespace)?.users.get(userId);
    return sockets === undefined ? [] : socketList(sockets);
  }

  isOnline(namespace: string, userId: string): boolean {
    return this.namespaces.get(namespace)?.users.has(userId) ?? false;
  }

  /** Every hash write needed to rebuild this instance's state from nothing (of the namespaces `keep` accepts, when given). */
  snapshot(out: ChangeList, keep?: (namespace: string) => boolean): ChangeList {
    for (const [namespace, ns] of this.namespaces) {
      if (keep !== undefined && !keep(namespace)) continue;
      const uKey = usersSuffix(namespace);
      for (const [userId, sockets] of ns.users) out.push(uKey, userId, JSON.stringify(socketList(sockets)));
      for (const [room, members] of ns.rooms) {
        const rKey = roomSuffix(namespace, room);
        for (const [userId, count] of members) out.push(rKey, userId, String(count));
      }
    }
    return out;
  }

  clear(): void {
    this.namespaces.clear();
  }

  /** Returns true when the user has no socket left in the room. */
  private dropFromRoom(ns: NamespaceState, namespace: string, room: string, userId: string, out?: ChangeList): boolean {
    const members = ns.rooms.get(room);
    if (!members) return false;
    const count = (members.get(userId) ?? 1) - 1;
    if (count > 0) members.set(userId, count);
    else {
      members.delete(userId);
      if (members.size === 0) ns.rooms.delete(room);
    }
    out?.push(roomSuffix(namespace, room), userId, count > 0 ? String(count) : "");
    return count <= 0;
  }
}

/** Open connections per IP of one instance: the memory counter and the Redis counter's mirror. */
export class CounterModel {
  private readonly counts = new Map<string, number>();

  get(ip: string): number {
    return this.counts.get(ip) ?? 0;
  }

  increment(ip: string): void {
    this.counts.set(ip, (this.counts.get(ip) ?? 0) + 1);
  }

  /** Returns false when nothing was counted for `ip`. */
  decrement(ip: string): boolean {
    const count = this.counts.get(ip);
    if (count === undefined) return false;
    if (count <= 1) this.counts.delete(ip);
    else this.counts.set(ip, count - 1);
    return true;
  }

  /** The counts as hash writes under `suffix` (of the IPs `keep` accepts, when given). */
  snapshot(suffix: string, out: ChangeList, keep?: (ip: string) => boolean): ChangeList {
    for (const [ip, count] of this.counts) if (keep === undefined || keep(ip)) out.push(suffix, ip, String(count));
    return out;
  }

  clear(): void {
    this.counts.clear();
  }
}
