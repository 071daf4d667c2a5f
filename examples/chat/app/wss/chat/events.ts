/**
 * The `/chat` namespace: sign-in by token, one room at a time, messages checked by a zod
 * schema and rate limited, the last messages of a room given on join, and a presence list
 * pushed to a room when someone joins, leaves, drops or comes back. What the server sends is
 * declared in `emits`: every emit below is type-checked against it (and checked at run time
 * in development), and the page's `on()` is typed from it.
 */
import { LolyError, defineWssRoute, type EmitPayloads, type WssContext } from "@loly-rt/core";
import { z } from "zod";
import { verifyToken, type ChatUser } from "../../../auth.js";
import { historyOf, nextMessageId, remember } from "../../../history.js";
import { MAX_MESSAGE_LENGTH, ROOMS, type ChatMessage, type PresenceUpdate, type Room } from "../../../protocol.js";

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
  /** Who is in the room now (sent on every change). */
  presence: z.object({ room: z.enum(ROOMS), users: z.array(z.string()) }),
};

/** The context of this route's handlers and hooks: its user and its emits. */
type ChatContext = WssContext<unknown, ChatUser, EmitPayloads<typeof emits>>;

/** The room this socket is in (kept on the socket; nothing the client sends sets it). */
function roomOf(ctx: ChatContext): Room | null {
  return (ctx.socket.data.room as Room | undefined) ?? null;
}

/** Sends the room's current users to everyone in it, and returns them. */
async function pushPresence(ctx: ChatContext, room: Room): Promise<string[]> {
  const users = (await ctx.presence.users(room)).sort((a, b) => a.localeCompare(b));
  const update: PresenceUpdate = { room, users };
  ctx.actions.toRoom(room).emit("presence", update);
  return users;
}

/** Leaves the socket's room, if any, and tells the ones who stay. */
async function leaveRoom(ctx: ChatContext): Promise<void> {
  const room = roomOf(ctx);
  if (room === null) return;
  delete ctx.socket.data.room;
  await ctx.actions.leave(room);
  await pushPresence(ctx, room);
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
  // A socket that recovered its session (it dropped and came back within recovery.windowMs) is
  // in its room again, presence included, and got what it missed; the room last heard it left
  // (onDisconnect below): tell the room it is back.
  onConnect: async (ctx) => {
    const room = roomOf(ctx);
    if (ctx.recovered && room !== null) await pushPresence(ctx, room);
  },
  // The socket left the namespace: socket.io has already dropped its rooms, so leave the
  // chat room through the actions (that updates presence) before telling the room.
  onDisconnect: (ctx) => leaveRoom(ctx),
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
        // the page drops a second copy by its id).
        const [users, history] = await Promise.all([pushPresence(ctx, room), historyOf(ctx.state, room)]);
        return { room, users, history };
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
