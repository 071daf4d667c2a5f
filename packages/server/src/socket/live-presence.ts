import {
  LolyError,
  PRESENCE_EVENT,
  type CompiledValidator,
  type PresenceBackend,
  type PresenceDiff,
  type PresenceExpiry,
  type PresenceSnapshot,
  type ValidationResult,
} from "@loly-rt/core";
import type { Namespace, Server, Socket } from "socket.io";
import type { SocketRecord } from "./record.js";
import { joinableRoom } from "./rooms.js";

/*
 * Live presence (`presence: { broadcast: true }` on a route). The presence backend decides, in
 * the write itself, whether a join was a user's first socket in a room and whether a leave,
 * a disconnect or a stopped instance took their last one (once cluster-wide); the instance
 * that made the write tells the room, through the adapter, so every instance's members hear
 * it once. Routes without the option pay nothing more than the write they always made.
 */

/** Tells the members of `room` (every instance) that `diff` happened. */
function announce(nsp: Namespace, diff: PresenceDiff): void {
  nsp.to(diff.room).emit(PRESENCE_EVENT, diff);
}

/** Records a signed-in socket's join in presence; a broadcasting route announces the user's arrival. */
export async function presenceJoin(rec: SocketRecord, room: string): Promise<void> {
  const { presence } = rec.shared;
  const first = await rec.shared.bounded(presence.join(rec.socket.nsp.name, rec.socket.id, room), "presence.join");
  if (first === true && rec.route.broadcastPresence) announce(rec.socket.nsp, { room, joined: rec.userId as string });
}

/** Records a signed-in socket's leave in presence; a broadcasting route announces the user's departure. */
export async function presenceLeave(rec: SocketRecord, room: string): Promise<void> {
  const { presence } = rec.shared;
  const last = await rec.shared.bounded(presence.leave(rec.socket.nsp.name, rec.socket.id, room), "presence.leave");
  if (last === true && rec.route.broadcastPresence) announce(rec.socket.nsp, { room, left: rec.userId as string });
}

/** Removes a signed-in socket from presence (it disconnected); a broadcasting route announces each room its user left. */
export async function presenceRemove(rec: SocketRecord): Promise<void> {
  const { presence } = rec.shared;
  const rooms = await rec.shared.bounded(presence.remove(rec.socket.nsp.name, rec.socket.id), "presence.remove");
  if (!rec.route.broadcastPresence || !Array.isArray(rooms)) return;
  for (const room of rooms) announce(rec.socket.nsp, { room, left: rec.userId as string });
}

/**
 * Announces the users that left rooms with a stopped instance, as this instance's presence
 * backend reports them (it dropped that instance: no other instance reports them). Only for
 * namespaces whose route broadcasts; a dynamic route's namespace with no socket here is made
 * for the emit (the adapter carries it to the instances that have members) and handed to
 * `made` (the reaper drops it again once empty). Returns a function that stops listening.
 */
export function announceExpired(
  io: Server,
  presence: PresenceBackend,
  broadcasts: (namespace: string) => boolean,
  made: (nsp: Namespace) => void,
): () => void {
  if (typeof presence.onExpired !== "function") return () => undefined;
  return presence.onExpired((expired: PresenceExpiry[]) => {
    for (const { namespace, room, userId } of expired) {
      if (!broadcasts(namespace)) continue;
      const existing = io._nsps.get(namespace);
      const nsp = existing ?? io.of(namespace);
      announce(nsp, { room, left: userId });
      if (existing === undefined) made(nsp);
    }
  });
}

/** Joins in progress (socket.io's join, then the presence write) on broadcasting routes, by socket and room. */
const joining = new WeakMap<Socket, Map<string, Promise<void>>>();

/**
 * Marks a join of a broadcasting route as in progress until the returned function is called:
 * a snapshot request woken by it reads the room once the join's presence write landed (so
 * the joining user is in its own snapshot). Call it before socket.io's join.
 */
export function trackJoin(socket: Socket, room: string): () => void {
  let rooms = joining.get(socket);
  if (rooms === undefined) {
    rooms = new Map();
    joining.set(socket, rooms);
  }
  const own = rooms;
  let done!: () => void;
  const promise = new Promise<void>((resolve) => {
    done = resolve;
  });
  own.set(room, promise);
  return () => {
    if (own.get(room) === promise) own.delete(room);
    done();
  };
}

/** How long a snapshot request waits for its socket to join the room at most. */
const MEMBERSHIP_WAIT_MS = 5000;

/**
 * The payload of a snapshot request: `{ room }`, the room a name a handler could join
 * (`user:*` rooms and socket ids are the server's).
 */
const requestPayload: CompiledValidator<{ room: string }> = (input): ValidationResult<{ room: string }> => {
  const room = (input as { room?: unknown } | null | undefined)?.room;
  if (typeof input !== "object" || input === null || typeof room !== "string" || room.length === 0) {
    return { ok: false, issues: [{ path: "room", message: "expected { room: string } (a non-empty room name)" }] };
  }
  return { ok: true, value: { room } };
};

/**
 * One "join-room" listener per namespace adapter for every snapshot request waiting for its
 * socket to join (a listener per request would pile up on the adapter after a mass reconnect).
 */
class MembershipWaits {
  private readonly waits = new Map<string, Set<() => void>>();

  constructor(adapter: { on(event: "join-room", listener: (room: string, id: string) => void): unknown }) {
    adapter.on("join-room", (room: string, id: string) => {
      const key = `${id}\u0000${room}`;
      const list = this.waits.get(key);
      if (list === undefined) return;
      this.waits.delete(key);
      for (const wake of list) wake();
    });
  }

  /** Resolves once `socket` is in `room`; rejects `FORBIDDEN` after `ms` or when it disconnects first. */
  until(socket: Socket, room: string, ms: number): Promise<void> {
    if (socket.rooms.has(room)) return Promise.resolve();
    const key = `${socket.id}\u0000${room}`;
    return new Promise<void>((resolve, reject) => {
      let list = this.waits.get(key);
      if (list === undefined) {
        list = new Set();
        this.waits.set(key, list);
      }
      const own = list;
      const settle = (err?: LolyError): void => {
        clearTimeout(timer);
        socket.off("disconnect", gone);
        own.delete(wake);
        if (own.size === 0 && this.waits.get(key) === own) this.waits.delete(key);
        if (err) reject(err);
        else resolve();
      };
      const wake = (): void => settle();
      const gone = (): void => settle(notMember(room));
      const timer = setTimeout(() => settle(notMember(room)), ms);
      timer.unref?.();
      own.add(wake);
      socket.once("disconnect", gone);
    });
  }
}

const waitsByAdapter = new WeakMap<object, MembershipWaits>();

function notMember(room: string): LolyError {
  return new LolyError("FORBIDDEN", `not in room ${JSON.stringify(room)}: a room's users are for its members (join it, then ask again)`);
}

/**
 * The built-in `__loly:presence` event of a broadcasting route: a member of `room` asks for
 * its users (`{ room }` -> `{ room, users }`). A socket that is not in the room yet (it asked
 * right after connecting, before the application's join) gets its answer once it joins, or
 * `FORBIDDEN` if it has not within 5 s (or half of `handlerTimeoutMs`).
 */
export function presenceRequestEvent(handlerTimeoutMs: number): {
  validate: CompiledValidator;
  handler: (ctx: { socket: unknown; data: unknown; presence: { users(room?: string): Promise<string[]> } }) => Promise<PresenceSnapshot>;
} {
  const waitMs = handlerTimeoutMs > 0 ? Math.min(MEMBERSHIP_WAIT_MS, Math.floor(handlerTimeoutMs / 2)) : MEMBERSHIP_WAIT_MS;
  return {
    validate: requestPayload as CompiledValidator,
    handler: async (ctx) => {
      const { room } = ctx.data as { room: string };
      joinableRoom(room);
      const socket = ctx.socket as Socket;
      const adapter = socket.nsp.adapter as unknown as object;
      let waits = waitsByAdapter.get(adapter);
      if (waits === undefined) {
        waits = new MembershipWaits(socket.nsp.adapter as never);
        waitsByAdapter.set(adapter, waits);
      }
      await waits.until(socket, room, waitMs);
      await joining.get(socket)?.get(room);
      return { room, users: await ctx.presence.users(room) };
    },
  };
}
