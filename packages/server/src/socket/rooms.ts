import { LolyError } from "@loly-rt/core";

/** Rooms of this prefix are the server's (`user:<id>`): handlers cannot join or leave them. */
export const USER_ROOM_PREFIX = "user:";

/** The room every socket of a signed-in user is in, on every instance. */
export function userRoom(userId: string): string {
  return USER_ROOM_PREFIX + userId;
}

/**
 * What a Socket.IO socket id looks like (20 characters of `[A-Za-z0-9_-]`, 120 random bits).
 * Every socket is in the room of its own id, so such names are reserved: a handler that
 * joins or targets a client-chosen room name must not reach another user's socket.
 */
const SOCKET_ID_SHAPE = /^[\w-]{20}$/;

/** A room name a handler may target (`toRoom`): not a socket id's. */
export function roomName(room: unknown): string {
  if (typeof room !== "string" || room.length === 0) throw new LolyError("INTERNAL", "room must be a non-empty string");
  if (SOCKET_ID_SHAPE.test(room)) {
    throw new LolyError(
      "FORBIDDEN",
      `room ${JSON.stringify(room)} looks like a socket id (20 characters of [A-Za-z0-9_-]): those rooms are reserved; use actions.toUser(userId), or a room name of another shape (e.g. "room:${room}")`,
    );
  }
  return room;
}

/** A room name a handler may join or leave: not one of the server's `user:` rooms. */
export function joinableRoom(room: unknown): string {
  const name = roomName(room);
  if (name.startsWith(USER_ROOM_PREFIX)) {
    throw new LolyError("FORBIDDEN", `room names starting with "${USER_ROOM_PREFIX}" are reserved; use actions.toUser(userId)`);
  }
  return name;
}
