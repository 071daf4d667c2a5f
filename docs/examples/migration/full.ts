// app/wss/chat/events.ts
import { defineWssRoute } from "@loly-rt/core";
import { z } from "zod";

export default defineWssRoute({
  // 4. who is connecting (replaces reading a user id from the handshake or the payload)
  auth: async ({ handshake }) => {
    const token = handshake.auth.token;
    return typeof token === "string" ? { id: token.slice(0, 8) } : null; // use your real token check
  },

  // 3. the legacy "connection" entry
  onConnect: async (ctx) => {
    ctx.log.info("connected");
    await ctx.actions.join("lobby");
  },

  // the legacy "disconnect" entry
  onDisconnect: (ctx) => {
    ctx.log.info({ reason: ctx.reason }, "disconnected");
  },

  events: {
    // 2. each array entry becomes a key
    message: {
      // 5. validation, authorisation and limits, all optional
      schema: z.object({ text: z.string().min(1).max(500) }),
      guard: ({ user }) => user !== null,
      rateLimit: { eventsPerSecond: 5, burst: 10 },
      handler: (ctx) => {
        ctx.actions.toRoom("lobby").broadcast("message", { from: ctx.user?.id, text: ctx.data.text });
        return { delivered: true }; // new: answers the client's acknowledgement
      },
    },
  },
});
