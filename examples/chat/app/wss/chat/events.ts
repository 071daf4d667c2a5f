/**
 * The `/chat` namespace: sign-in by token, one room at a time, messages checked by a zod
 * schema and rate limited, the last messages of a room given on join, and live presence:
 * `presence: { broadcast: true }` has the server tell a room's members on `__loly:presence`
 * whenever a user's first socket joins it or their last one leaves (a leave, a dropped
 * connection, or their server instance stopped), and the page keeps the list with
 * `chat.presence(room)`; this file pushes no presence itself. What the route sends is declared
 * in `emits`: every emit below is type-checked against it (and checked at run time in
 * development), and the page's `on()` is typed from it.
 */
import { LolyError, defineWssRoute, type EmitPayloads, type WssContext } from "@loly-rt/core";
import { z } from "zod";
import { verifyToken, type ChatUser } from "../../../auth.js";
import { historyOf, nextMessageId, remember } from "../../../history.js";
import { MAX_MESSAGE_LENGTH, ROOMS, type ChatMessage, type Room } from "../../../protocol.js";

/** What the server sends to the page. */
const emits = {
  /** A message written in the room the socket is in. */
  message: z.object({
    id: z.number().int().positive(),
    room: z.enum(ROOMS),
    from: z.string(),
    text: z.string().max(MAX_MESSAGE_LENGTH),
    at: z.number(),
  }),
};

/** The context of this route's handlers and hooks: its user and its emits. */
type ChatContext = WssContext<unknown, ChatUser, EmitPayloads<typeof emits>>;

/** The room this socket is in (kept on the socket; nothing the client sends sets it). */
function roomOf(ctx: ChatContext): Room | null {
  return (ctx.socket.data.room as Room | undefined) ?? null;
}

/** Leaves the socket's room, if any (the room hears it on `__loly:presence` if that was the user's last socket there). */
async function leaveRoom(ctx: ChatContext): Promise<void> {
  const room = roomOf(ctx);
  if (room === null) return;
  delete ctx.socket.data.room;
  await ctx.actions.leave(room);
}

export default defineWssRoute({
  requireAuth: true,
  auth: ({ handshake }) => {
    const user = verifyToken(handshake.auth.token);
    // Throwing refuses the connection: the page gets connect_error "UNAUTHORIZED".
    if (user === null) throw new Error("missing, forged or expired token");
    return user;
  },
  emits,
  // Joins, leaves, disconnects and a recovered socket's return are announced by the server:
  // no onConnect or onDisconnect is needed for presence.
  presence: { broadcast: true },
  events: {
    join: {
      schema: z.object({ room: z.enum(ROOMS) }),
      handler: async (ctx) => {
        const { room } = ctx.data;
        if (roomOf(ctx) !== room) {
          await leaveRoom(ctx);
          await ctx.actions.join(room);
          ctx.socket.data.room = room;
        }
        // Read after joining: a message sent meanwhile is in the history or arrives live (or both:
        // the page drops a second copy by its id). Who is there: the page's `chat.presence(room)`.
        const history = await historyOf(ctx.state, room);
        return { room, history };
      },
    },
    leave: async (ctx) => {
      await leaveRoom(ctx);
      return { room: null };
    },
    message: {
      schema: z.object({
        text: z.string().trim().min(1, "write something first").max(MAX_MESSAGE_LENGTH, `at most ${MAX_MESSAGE_LENGTH} characters`),
      }),
      // Five quick messages, then one a second; the sixth in a burst gets RATE_LIMIT.
      rateLimit: { eventsPerSecond: 1, burst: 5 },
      handler: async (ctx) => {
        const room = roomOf(ctx);
        if (room === null) throw new LolyError("FORBIDDEN", "join a room before writing");
        const message: ChatMessage = {
          id: await nextMessageId(ctx.state, room),
          room,
          from: ctx.user!.name,
          text: ctx.data.text,
          at: Date.now(),
        };
        // Kept before it is sent: whoever joins from now on finds it in the history.
        await remember(ctx.state, message);
        ctx.actions.toRoom(room).emit("message", message);
        return { id: message.id };
      },
    },
  },
});
