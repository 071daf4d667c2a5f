/**
 * The last {@link HISTORY_SIZE} messages of each room, kept in the route's state store
 * (`ctx.state`: in memory here, Redis in cluster mode), so a page that reloads gets the
 * conversation back when it joins.
 *
 * A room's messages take their id from a per-room counter (`incr`, atomic in every store) and
 * sit in a ring of {@link HISTORY_SIZE} keys, slot `id % HISTORY_SIZE`: the store never holds
 * more than that per room, and two messages written at the same time never overwrite each
 * other (a read-modify-write of one array key would lose one of them). The store contract has
 * no list trim, so `listPush` would grow for ever.
 */
import type { RealtimeStateStore } from "@loly-rt/core";
import { z } from "zod";
import { ROOMS, type ChatMessage, type Room } from "./protocol.js";

/** How many messages of a room are kept and given to whoever joins it. */
export const HISTORY_SIZE = 50;

const lastIdKey = (room: Room): string => `chat:${room}:last-id`;
const slotKey = (room: Room, id: number): string => `chat:${room}:message:${id % HISTORY_SIZE}`;

/** A message as read back from the store: anything else there (another app's key, an old shape) is skipped. */
const storedMessage = z.object({
  id: z.number().int().positive(),
  room: z.enum(ROOMS),
  from: z.string(),
  text: z.string(),
  at: z.number(),
});

/** The id of the next message of `room`: 1, 2, 3... */
export function nextMessageId(state: RealtimeStateStore, room: Room): Promise<number> {
  return state.incr(lastIdKey(room));
}

/** Keeps `message` in its room's history (it replaces the one {@link HISTORY_SIZE} messages older). */
export async function remember(state: RealtimeStateStore, message: ChatMessage): Promise<void> {
  await state.set(slotKey(message.room, message.id), { ...message });
}

/** The last messages of `room`, oldest first (at most {@link HISTORY_SIZE}). */
export async function historyOf(state: RealtimeStateStore, room: Room): Promise<ChatMessage[]> {
  const last = (await state.get<number>(lastIdKey(room))) ?? 0;
  const ids: number[] = [];
  for (let id = Math.max(1, last - HISTORY_SIZE + 1); id <= last; id++) ids.push(id);
  const stored = await Promise.all(ids.map((id) => state.get(slotKey(room, id))));
  return stored.flatMap((value, i) => {
    const parsed = storedMessage.safeParse(value);
    // A slot still holding an older message (the newer one is being written) is not this id's.
    return parsed.success && parsed.data.id === ids[i] && parsed.data.room === room ? [parsed.data] : [];
  });
}
