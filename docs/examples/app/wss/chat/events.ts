// app/wss/chat/events.ts: the namespace "/chat"
import { defineWssRoute, LolyError } from "@loly-rt/core";
import { z } from "zod";
import { verifyToken } from "../../../auth.js";

export default defineWssRoute({
  // Runs once per connection. Return the user (it needs an `id`), or null for anonymous;
  // throw to refuse the connection (the client gets connect_error "UNAUTHORIZED").
  auth: async ({ handshake }) => {
    const token = handshake.auth.token;
    if (typeof token !== "string") return null;
    const user = await verifyToken(token);
    if (!user) throw new Error("invalid token");
    return user;
  },

  onConnect: async (ctx) => {
    await ctx.actions.join("lobby");
    ctx.log.info("joined the lobby");
  },

  onDisconnect: (ctx) => {
    ctx.log.info({ reason: ctx.reason }, "left");
  },

  events: {
    // A bare handler: its return value answers the client's request.
    ping: () => "pong",

    // An event with options.
    message: {
      schema: z.object({ text: z.string().trim().min(1).max(500) }),
      requireAuth: true, // anonymous sockets get UNAUTHORIZED
      rateLimit: { eventsPerSecond: 5, burst: 10 },
      handler: async (ctx) => {
        const message = { from: ctx.user!.name, text: ctx.data.text, at: Date.now() };
        await ctx.state.listPush("lobby:history", message);
        ctx.actions.toRoom("lobby").emit("message", message);
        return { delivered: true };
      },
    },

    history: async (ctx) => ctx.state.listRange("lobby:history", 0, 49),

    online: async (ctx) => ctx.presence.users("lobby"),

    kick: {
      schema: z.object({ userId: z.string() }),
      guard: ({ user }) => user?.role === "admin", // false -> FORBIDDEN
      handler: (ctx) => {
        if (ctx.data.userId === ctx.user?.id) {
          throw new LolyError("BAD_PAYLOAD", "You cannot kick yourself"); // the client gets this code
        }
        ctx.actions.toUser(ctx.data.userId).emit("kicked", { by: ctx.user?.name });
        return "ok";
      },
    },
  },
});
