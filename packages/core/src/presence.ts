/** The event of live presence: the server's diffs to a room, and the client's snapshot request (`presence: { broadcast: true }`). */
export const PRESENCE_EVENT = "__loly:presence" as const;

/**
 * A route's `presence` option.
 *
 * @example
 * defineWssRoute({ presence: { broadcast: true }, events: { ... } })
 */
export interface WssPresenceOptions {
  /**
   * Push `__loly:presence` to a room's members when a user's first socket (on any instance)
   * joins it, `{ room, joined: userId }`, and when their last socket leaves it (`leave`,
   * disconnect, or their instance stopped: within `presence.ttlMs`), `{ room, left: userId }`:
   * one event per change, cluster-wide. Clients of the room may also ask for its users
   * (`lolySocket(...).presence(room)` keeps the live list).
   * @default false
   */
  broadcast?: boolean;
}

/** What `__loly:presence` carries to a room's members: one user arrived (`joined`) or went (`left`). */
export type PresenceDiff = { room: string; joined: string; left?: undefined } | { room: string; left: string; joined?: undefined };

/** The answer to a client's `__loly:presence` request: the room's users now. */
export interface PresenceSnapshot {
  room: string;
  users: string[];
}

/** One signed-in socket as presence records it. */
export interface PresenceEntry {
  namespace: string;
  socketId: string;
  userId: string;
}

/**
 * A user whose last socket in a room went away without a `leave` or `remove`: it was on an
 * instance that stopped without `close()` (even SIGKILL), and the backend dropped its entries.
 */
export interface PresenceExpiry {
  namespace: string;
  room: string;
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
 * - on `close()`, remove this instance's entries at once and stop its timers;
 * - report each room transition of a user exactly once across every instance sharing it:
 *   `join` resolves `true` for the write that made the user present in the room (their first
 *   socket there, on any instance), `leave` and `remove` report the writes that made them
 *   absent (their last socket), and `onExpired` the users whose last socket in a room was on
 *   a stopped instance (to one instance only: the one that dropped them). Each answer must
 *   come from the write itself (decided atomically with it), not from a read before or after.
 *   This is what `presence: { broadcast: true }` on a route announces.
 */
export interface PresenceBackend {
  /** Registers a signed-in socket in its namespace. */
  add(entry: PresenceEntry): Promise<void>;
  /**
   * Removes a socket and all its room memberships. Unknown sockets are ignored. Resolves with
   * the rooms its user is no longer in because of it (this was their last socket there,
   * cluster-wide); `[]` when none.
   */
  remove(namespace: string, socketId: string): Promise<string[]>;
  /**
   * Records that a registered socket joined `room`. Unknown sockets are ignored. Resolves
   * `true` when this made its user present in the room (their first socket there,
   * cluster-wide), `false` otherwise (already there, another socket, unknown socket).
   */
  join(namespace: string, socketId: string, room: string): Promise<boolean>;
  /**
   * Records that a registered socket left `room`. Resolves `true` when its user is no longer
   * in the room because of it (their last socket there, cluster-wide).
   */
  leave(namespace: string, socketId: string, room: string): Promise<boolean>;
  /**
   * Listens to users that left rooms with a stopped instance (SIGKILL, crash: no `close()`),
   * each reported once cluster-wide, within `ttlMs` of the stop. Returns a function that
   * removes the listener. A backend whose entries never outlive their process (in memory)
   * has nothing to report and may leave it out.
   */
  onExpired?(listener: (expired: PresenceExpiry[]) => void): () => void;
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
