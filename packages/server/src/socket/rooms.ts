import { LolyError } from "@loly-rt/core";

/** Rooms of this prefix are the server's (`user:<id>`): handlers cannot join or leave them. */
export const USER_ROOM_PREFIX = "user:";

/** The room every socket of a signed-in user is in, on every instance. */
export function userRoom(userId: string): string {
  return USER_ROOM_PREFIX + userId;
}

/** A room name a handler may target (`toRoom`). */
export function roomName(room: unknown): string {
  if (typeof room !== "string" || room.length === 0) throw new LolyError("INTERNAL", "room must be a non-empty string");
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
