import type { PresenceDiff, PresenceSnapshot } from "@loly-rt/core";
import type { Socket } from "socket.io-client";
import { LolyClientError } from "./errors.js";

/** `__loly:presence`; a literal here: the client imports no runtime value from `@loly-rt/core`. */
export const PRESENCE_EVENT = "__loly:presence";

/** What changed in a {@link LolyPresence}: a user arrived, a user went, or a snapshot replaced the list. */
export type LolyPresenceChange = { joined: string } | { left: string } | { synced: true };

/**
 * The live list of a room's users, from `lolySocket(...).presence(room)`: the server's
 * snapshot of the room, then every `__loly:presence` diff the room gets (a user's first socket
 * in, their last socket out, cluster-wide, a stopped server's users included), resynced from
 * a fresh snapshot after each reconnection.
 */
export interface LolyPresence {
  /** The room. */
  readonly room: string;
  /** The room's user ids as last known, sorted (a new array after each change). */
  readonly users: readonly string[];
  /** Whether `userId` is in the room as last known. */
  has(userId: string): boolean;
  /**
   * True once a snapshot was applied and the connection held since; false while the first
   * snapshot is on its way, after the connection dropped (until the resync), and after a
   * refused snapshot request.
   */
  readonly synced: boolean;
  /**
   * Resolves once the first snapshot is applied. Rejects with a {@link LolyClientError}: the
   * server's code when it refuses (`FORBIDDEN`: the socket did not join the room within 5 s of
   * asking, `UNKNOWN_EVENT`: the route has no `presence: { broadcast: true }`), `TIMEOUT`, or
   * `DISCONNECTED` when the list or the client was closed first.
   */
  ready(): Promise<void>;
  /** Called after each change with the new list; returns a function that removes the listener. */
  onChange(listener: (users: readonly string[], change: LolyPresenceChange) => void): () => void;
  /**
   * Called when a snapshot request is refused or fails (after a reconnection too: the list then
   * keeps what it knew and asks again at the next diff of the room, which only members get).
   * Returns a function that removes the listener.
   */
  onError(listener: (error: LolyClientError) => void): () => void;
  /** Stops following the room (listeners removed, nothing more is asked). */
  close(): void;
}

/** How a list asks the server for the room's users: the `__loly:presence` request and its ack. */
export type PresenceRequest = (room: string) => Promise<PresenceSnapshot>;

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function isDiff(value: unknown): value is PresenceDiff {
  if (typeof value !== "object" || value === null) return false;
  const d = value as Partial<Record<"room" | "joined" | "left", unknown>>;
  return typeof d.room === "string" && (typeof d.joined === "string" || typeof d.left === "string");
}

/**
 * A {@link LolyPresence} over a socket.io-client socket. Diffs that arrive while a snapshot is
 * on its way are kept and applied over it (a diff the snapshot already reflects changes
 * nothing: adding a present user or removing an absent one is a no-op).
 */
export function livePresence(socket: Socket, room: string, request: PresenceRequest): LolyPresence {
  let members = new Set<string>();
  let list: readonly string[] = [];
  let synced = false;
  let closed = false;
  /** Diffs received while a snapshot is on its way; `null` when none is. */
  let pending: PresenceDiff[] | null = null;
  /** Incremented by each snapshot request: only the latest one's answer counts. */
  let generation = 0;
  /** The connection dropped since the last request: ask again once it is back. */
  let dropped = false;
  /** The last request was refused: ask again at the room's next diff (we are a member then). */
  let refused = false;
  const changeListeners = new Set<(users: readonly string[], change: LolyPresenceChange) => void>();
  const errorListeners = new Set<(error: LolyClientError) => void>();
  let first: { resolve: () => void; reject: (err: LolyClientError) => void } | null = null;
  const firstSnapshot = new Promise<void>((resolve, reject) => {
    first = { resolve, reject };
  });
  // Not every caller waits for ready(): its rejection is reported through onError too.
  firstSnapshot.catch(() => undefined);

  const changed = (change: LolyPresenceChange): void => {
    list = [...members].sort(byId);
    for (const listener of changeListeners) listener(list, change);
  };
  const changeOf = (d: PresenceDiff): LolyPresenceChange =>
    typeof d.joined === "string" ? { joined: d.joined } : { left: d.left as string };
  /** Applies a diff; true when it changed the list. */
  const apply = (d: PresenceDiff): boolean => {
    if (typeof d.joined === "string") {
      if (members.has(d.joined)) return false;
      members.add(d.joined);
      return true;
    }
    return members.delete(d.left as string);
  };

  const sync = (): void => {
    if (closed) return;
    const mine = ++generation;
    pending = [];
    refused = false;
    request(room).then(
      (snapshot) => {
        if (closed || mine !== generation) return;
        members = new Set(Array.isArray(snapshot?.users) ? snapshot.users.map(String) : []);
        for (const d of pending ?? []) apply(d);
        pending = null;
        synced = true;
        changed({ synced: true });
        first?.resolve();
        first = null;
      },
      (err: unknown) => {
        if (closed || mine !== generation) return;
        // What came meanwhile still counts: the list stays as right as it can be.
        const came = pending ?? [];
        pending = null;
        synced = false;
        for (const d of came) if (apply(d)) changed(changeOf(d));
        const error = LolyClientError.is(err)
          ? err
          : new LolyClientError("INTERNAL", `presence of ${room}: ${String(err)}`, undefined, { cause: err });
        // The connection dropped with the request: the reconnection asks again.
        if (error.code === "DISCONNECTED" && socket.active) return;
        refused = true;
        first?.reject(error);
        first = null;
        for (const listener of errorListeners) listener(error);
      },
    );
  };
  const onDiff = (payload: unknown): void => {
    if (closed || !isDiff(payload) || payload.room !== room) return;
    if (pending !== null) {
      pending.push(payload);
      return;
    }
    if (apply(payload)) changed(changeOf(payload));
    // A refused request (we were not in the room yet): this diff says we are now.
    if (refused) sync();
  };
  const onDisconnect = (): void => {
    dropped = true;
    synced = false;
  };
  const onConnect = (): void => {
    if (!dropped) return;
    dropped = false;
    sync();
  };

  socket.on(PRESENCE_EVENT, onDiff);
  socket.on("disconnect", onDisconnect);
  socket.on("connect", onConnect);
  sync();

  return {
    room,
    get users() {
      return list;
    },
    has(userId: string) {
      return members.has(userId);
    },
    get synced() {
      return synced;
    },
    ready() {
      return firstSnapshot;
    },
    onChange(listener) {
      changeListeners.add(listener);
      return () => {
        changeListeners.delete(listener);
      };
    },
    onError(listener) {
      errorListeners.add(listener);
      return () => {
        errorListeners.delete(listener);
      };
    },
    close() {
      if (closed) return;
      closed = true;
      synced = false;
      socket.off(PRESENCE_EVENT, onDiff);
      socket.off("disconnect", onDisconnect);
      socket.off("connect", onConnect);
      changeListeners.clear();
      errorListeners.clear();
      first?.reject(new LolyClientError("DISCONNECTED", `the presence list of ${room} was closed`));
      first = null;
    },
  };
}
