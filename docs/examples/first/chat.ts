// chat.ts
import { defineWssRoute } from "@loly-rt/core";
import { z } from "zod";

export default defineWssRoute({
  events: {
    ping: () => "pong",
    message: {
      schema: z.object({ text: z.string().max(500) }),
      handler: (ctx) => {
        ctx.actions.broadcast("message", { text: ctx.data.text }); // everyone else in "/chat"
        return { delivered: true }; // answers the client's request
      },
    },
  },
});
