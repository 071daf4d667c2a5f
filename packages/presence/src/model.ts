import type { PresenceEntry } from "@loly-rt/core";

interface SocketRecord {
  userId: string;
  rooms: Set<string>;
}

interface NamespaceState {
  sockets: Map<string, SocketRecord>;
  /** userId -> socket ids of that user. */
  users: Map<string, Set<string>>;
  /** room -> (userId -> number of that user's sockets in the room). */
  rooms: Map<string, Map<string, number>>;
}

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
    if (existing) {
      if (existing.userId === userId) return;
      this.remove(namespace, socketId, out);
      return this.add(entry, out);
    }
    ns.sockets.set(socketId, { userId, rooms: new Set() });
    let sockets = ns.users.get(userId);
    if (!sockets) {
      sockets = new Set();
      ns.users.set(userId, sockets);
    }
    sockets.add(socketId);
    out?.push(usersSuffix(namespace), userId, JSON.stringify([...sockets]));
  }

  remove(namespace: string, socketId: string, out?: ChangeList): void {
    const ns = this.namespaces.get(namespace);
    const record = ns?.sockets.get(socketId);
    if (!ns || !record) return;
    for (const room of record.rooms) this.dropFromRoom(ns, namespace, room, record.userId, out);
    ns.sockets.delete(socketId);
    const sockets = ns.users.get(record.userId);
    if (sockets) {
      sockets.delete(socketId);
      if (sockets.size === 0) ns.users.delete(record.userId);
      out?.push(usersSuffix(namespace), record.userId, sockets.size === 0 ? "" : JSON.stringify([...sockets]));
    }
    if (ns.sockets.size === 0) this.namespaces.delete(namespace);
  }

  join(namespace: string, socketId: string, room: string, out?: ChangeList): void {
    const ns = this.namespaces.get(namespace);
    const record = ns?.sockets.get(socketId);
    if (!ns || !record || record.rooms.has(room)) return;
    record.rooms.add(room);
    let members = ns.rooms.get(room);
    if (!members) {
      members = new Map();
      ns.rooms.set(room, members);
    }
    const count = (members.get(record.userId) ?? 0) + 1;
    members.set(record.userId, count);
    out?.push(roomSuffix(namespace, room), record.userId, String(count));
  }

  leave(namespace: string, socketId: string, room: string, out?: ChangeList): void {
    const ns = this.namespaces.get(namespace);
    const record = ns?.sockets.get(socketId);
    if (!ns || !record || !record.rooms.delete(room)) return;
    this.dropFromRoom(ns, namespace, room, record.userId, out);
  }

  /** True when `socketId` is registered in `namespace`. */
  has(namespace: string, socketId: string): boolean {
    return this.namespaces.get(namespace)?.sockets.has(socketId) ?? false;
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
    return sockets ? [...sockets] : [];
  }

  isOnline(namespace: string, userId: string): boolean {
    return this.namespaces.get(namespace)?.users.has(userId) ?? false;
  }

  /** Every hash write needed to rebuild this instance's state from nothing. */
  snapshot(out: ChangeList): ChangeList {
    for (const [namespace, ns] of this.namespaces) {
      const uKey = usersSuffix(namespace);
      for (const [userId, sockets] of ns.users) out.push(uKey, userId, JSON.stringify([...sockets]));
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

  private dropFromRoom(ns: NamespaceState, namespace: string, room: string, userId: string, out?: ChangeList): void {
    const members = ns.rooms.get(room);
    if (!members) return;
    const count = (members.get(userId) ?? 1) - 1;
    if (count > 0) members.set(userId, count);
    else {
      members.delete(userId);
      if (members.size === 0) ns.rooms.delete(room);
    }
    out?.push(roomSuffix(namespace, room), userId, count > 0 ? String(count) : "");
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

  snapshot(suffix: string, out: ChangeList): ChangeList {
    for (const [ip, count] of this.counts) out.push(suffix, ip, String(count));
    return out;
  }

  clear(): void {
    this.counts.clear();
  }
}
