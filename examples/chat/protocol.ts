/** What the server and the page share: rooms, limits and the message the server sends. */

/** The rooms of the chat. */
export const ROOMS = ["general", "random", "help"] as const;
export type Room = (typeof ROOMS)[number];

/** Longest message the server accepts (the schema refuses longer ones with BAD_PAYLOAD). */
export const MAX_MESSAGE_LENGTH = 500;

/** One chat message, as the server sends it to a room (and keeps it in the room's history). */
export interface ChatMessage {
  /** 1, 2, 3... in each room. */
  id: number;
  room: Room;
  from: string;
  text: string;
  at: number;
}
