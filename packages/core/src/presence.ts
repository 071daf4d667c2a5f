/** One signed-in socket as presence records it. */
export interface PresenceEntry {
  namespace: string;
  socketId: string;
  userId: string;
}

/**
 * Who is online. `@loly-rt/presence` ships an in-process backend and a Redis backend.
 * Presence tracks signed-in sockets only: anonymous sockets have no user to list.
 *
 * An implementation MUST:
 * - make every write visible to every instance sharing the backend once its promise
 *   resolves (the server registers a socket before the client receives `connect`);
 * - answer the same from every instance;
 * - forget, within `ttlMs`, every entry of an instance that stopped without `close()`
 *   (even SIGKILL): no entry lives without an expiry or a heartbeat that renews it;
 * - on `close()`, remove this instance's entries at once and stop its timers.
 */
export interface PresenceBackend {
  /** Registers a signed-in socket in its namespace. */
  add(entry: PresenceEntry): Promise<void>;
  /** Removes a socket and all its room memberships. Unknown sockets are ignored. */
  remove(namespace: string, socketId: string): Promise<void>;
  /** Records that a registered socket joined `room`. Unknown sockets are ignored. */
  join(namespace: string, socketId: string, room: string): Promise<void>;
  /** Records that a registered socket left `room`. */
  leave(namespace: string, socketId: string, room: string): Promise<void>;
  /** Ids of the users with at least one socket in the namespace (or in `room` of it), any order, no duplicates. */
  users(namespace: string, room?: string): Promise<string[]>;
  /** Socket ids of `userId` in the namespace, on every instance. */
  socketsOf(namespace: string, userId: string): Promise<string[]>;
  /** True when `userId` has a socket in the namespace on any instance. */
  isOnline(namespace: string, userId: string): Promise<boolean>;
  /** Removes this instance's entries and stops its timers. Idempotent. */
  close(): Promise<void>;
}

/**
 * Counts open connections per client IP for `limits.connectionsPerIp`. Cluster-wide when
 * backed by Redis. Same crash-safety as {@link PresenceBackend}: the count of an instance
 * that stopped drops within `ttlMs`.
 */
export interface ConnectionCounter {
  /** Counts one more connection from `ip` unless `limit` are open; resolves whether it was counted. */
  acquire(ip: string, limit: number): boolean | Promise<boolean>;
  /** Forgets one connection from `ip` (one that `acquire` counted). */
  release(ip: string): void | Promise<void>;
  /** Removes this instance's counts and stops its timers. Idempotent. */
  close(): Promise<void>;
}

/** Presence as a handler sees it (`ctx.presence`), bound to the handler's namespace. */
export interface WssPresence {
  /** User ids online in this namespace, or in `room` of it, on every instance. */
  users(room?: string): Promise<string[]>;
  /** Socket ids of a user in this namespace, on every instance. */
  socketsOf(userId: string): Promise<string[]>;
  /** True when the user has a socket in this namespace on any instance. */
  isOnline(userId: string): Promise<boolean>;
}
